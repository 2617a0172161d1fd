"""A real Mesos framework written with mesoshttp 0.4.2 (PyPI) against Drover: subscribe over the
Scheduler HTTP API, take an offer, launch two command tasks, follow their updates (mesoshttp
acknowledges each reliable one itself), reconcile, kill, and tear the framework down.

Usage: mesoshttp_scheduler.py http://MASTER_HOST:PORT. Prints one line per observed event and
exits 0 after printing OK when every expectation held; exits non-zero with the reason otherwise."""

import json
import sys
import threading
import time
import urllib.request

from mesoshttp.client import MesosClient

MASTER = sys.argv[1]
DEADLINE_SECONDS = 90


class Observer:
    def __init__(self):
        self.changed = threading.Condition()
        self.driver = None
        self.launched = False
        self.declined = 0
        self.agent_id = None
        self.updates = []  # (task_id, state, reason, source, has_uuid)

    def subscribed(self, driver):
        with self.changed:
            self.driver = driver
            print("subscribed", driver.frameworkId, flush=True)
            self.changed.notify_all()

    def offers(self, offers):
        for offer in offers:
            body = offer.get_offer()
            with self.changed:
                launch = not self.launched
                self.launched = True
                if not launch:
                    self.declined += 1
                self.changed.notify_all()
            if not launch:
                offer.decline()
                continue
            self.agent_id = body["agent_id"]["value"]
            tasks = []
            for task_id, command in (("echo-task", "echo hello-from-mesoshttp"),
                                     ("sleep-task", "sleep 300")):
                tasks.append({
                    "name": task_id,
                    "task_id": {"value": task_id},
                    # mesoshttp adds the pre-1.0 `slave_id`; the v1 API needs `agent_id`.
                    "agent_id": {"value": self.agent_id},
                    "resources": [
                        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                        {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
                    ],
                    "command": {"value": command, "shell": True},
                })
            print("launching on", self.agent_id, flush=True)
            offer.accept(tasks)

    def update(self, update):
        status = update["status"]
        entry = (status["task_id"]["value"], status["state"], status.get("reason"),
                 status.get("source"), "uuid" in status)
        with self.changed:
            self.updates.append(entry)
            print("update", *entry, flush=True)
            self.changed.notify_all()

    def wait_for(self, what, predicate):
        deadline = time.time() + DEADLINE_SECONDS
        with self.changed:
            while not predicate():
                remaining = deadline - time.time()
                if remaining <= 0:
                    raise SystemExit("FAIL: timed out waiting for " + what)
                self.changed.wait(remaining)

    def saw(self, task_id, state, reason=None):
        return any(u[0] == task_id and u[1] == state and (reason is None or u[2] == reason)
                   for u in self.updates)


def master_state():
    with urllib.request.urlopen(MASTER + "/master/state", timeout=10) as response:
        return json.load(response)


def main():
    observer = Observer()
    client = MesosClient(mesos_urls=[MASTER], frameworkName="mesoshttp-compat",
                         max_reconnect=1)
    client.set_failover_timeout(60)
    client.on(MesosClient.SUBSCRIBED, observer.subscribed)
    client.on(MesosClient.OFFERS, observer.offers)
    client.on(MesosClient.UPDATE, observer.update)
    loop = threading.Thread(target=client.register, daemon=True)
    loop.start()

    observer.wait_for("SUBSCRIBED", lambda: observer.driver is not None)
    driver = observer.driver
    state = master_state()
    names = {f["id"]: f["name"] for f in state["frameworks"]}
    if names.get(driver.frameworkId) != "mesoshttp-compat":
        raise SystemExit("FAIL: the master does not list the framework: %r" % (names,))

    observer.wait_for("echo-task FINISHED", lambda: observer.saw("echo-task", "TASK_FINISHED"))
    observer.wait_for("sleep-task RUNNING", lambda: observer.saw("sleep-task", "TASK_RUNNING"))
    running = [u for u in observer.updates if u[0] == "sleep-task" and u[1] == "TASK_RUNNING"][0]
    if running[3] != "SOURCE_EXECUTOR" or not running[4]:
        raise SystemExit("FAIL: RUNNING should come from the executor with a uuid: %r" % (running,))

    # The master's view agrees with what the framework was told.
    deadline = time.time() + DEADLINE_SECONDS
    while True:
        tasks = [t for f in master_state()["frameworks"] if f["id"] == driver.frameworkId
                 for t in f["tasks"] if t["id"] == "sleep-task"]
        if tasks and tasks[0]["state"] == "TASK_RUNNING" and tasks[0]["statuses"]:
            break
        if time.time() > deadline:
            raise SystemExit("FAIL: /master/state never showed sleep-task running: %r" % (tasks,))
        time.sleep(0.2)

    driver.reconcile([{"task_id": {"value": "sleep-task"},
                       "agent_id": {"value": observer.agent_id}}])
    observer.wait_for("explicit reconciliation answer",
                      lambda: observer.saw("sleep-task", "TASK_RUNNING", "REASON_RECONCILIATION"))
    answer = [u for u in observer.updates if u[2] == "REASON_RECONCILIATION"][0]
    if answer[3] != "SOURCE_MASTER" or answer[4]:
        raise SystemExit("FAIL: reconciliation answers come from the master without uuid: %r"
                         % (answer,))

    driver.kill(observer.agent_id, "sleep-task")
    observer.wait_for("sleep-task KILLED", lambda: observer.saw("sleep-task", "TASK_KILLED"))

    driver.tearDown()
    client.tearDown()
    deadline = time.time() + DEADLINE_SECONDS
    while True:
        state = master_state()
        gone = [f["id"] for f in state.get("completed_frameworks", [])]
        active = [f["id"] for f in state["frameworks"]]
        if driver.frameworkId in gone and driver.frameworkId not in active:
            break
        if time.time() > deadline:
            raise SystemExit("FAIL: TEARDOWN did not remove the framework: %r" % (active,))
        time.sleep(0.2)
    print("torn down", driver.frameworkId, flush=True)
    print("OK", flush=True)


if __name__ == "__main__":
    main()
