"""A real Mesos framework (pymesos 0.3.15) against Drover: subscribe, take an offer, launch two
command tasks, follow their updates (acknowledged by pymesos), reconcile, kill, and tear down.

Usage: pymesos_scheduler.py MASTER_HOST:PORT. Prints one line per observed event and exits 0
when every expectation held, 1 otherwise (with the reason)."""

import socket
import sys
import threading
import time

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler

MASTER = sys.argv[1]
DEADLINE_SECONDS = 90


def scalar(name, value):
    return dict(name=name, type="SCALAR", scalar=dict(value=value))


class Observer(Scheduler):
    def __init__(self):
        self.lock = threading.Lock()
        self.framework_id = None
        self.launched = False
        self.updates = []  # (task_id, state, reason, source, has_uuid, message)
        self.changed = threading.Condition(self.lock)

    def registered(self, driver, framework_id, master_info):
        with self.lock:
            self.framework_id = framework_id.value
            print("registered", framework_id.value, flush=True)
            self.changed.notify_all()

    def resourceOffers(self, driver, offers):
        for offer in offers:
            with self.lock:
                launch = not self.launched
                self.launched = True
            if not launch:
                driver.declineOffer(offer.id)
                continue
            tasks = []
            for task_id, command in (("echo-task", "echo hello-from-pymesos"),
                                     ("sleep-task", "sleep 300")):
                task = Dict()
                task.task_id.value = task_id
                task.agent_id.value = offer.agent_id.value
                task.name = task_id
                task.command.value = command
                task.resources = [scalar("cpus", 0.1), scalar("mem", 32)]
                tasks.append(task)
            print("launching on", offer.agent_id.value, flush=True)
            driver.launchTasks(offer.id, tasks)

    def statusUpdate(self, driver, update):
        with self.lock:
            entry = (update.task_id.value, update.state, update.get("reason"),
                     update.get("source"), "uuid" in update, update.get("message"))
            self.updates.append(entry)
            print("update", *entry, flush=True)
            if "uuid" in update and "agent_id" not in update:
                print("FAIL: reliable update without agent_id", flush=True)
            self.changed.notify_all()

    def wait_for(self, what, predicate):
        deadline = time.time() + DEADLINE_SECONDS
        with self.lock:
            while not predicate():
                remaining = deadline - time.time()
                if remaining <= 0:
                    raise SystemExit("FAIL: timed out waiting for " + what)
                self.changed.wait(remaining)

    def saw(self, task_id, state, reason=None):
        return any(u[0] == task_id and u[1] == state and (reason is None or u[2] == reason)
                   for u in self.updates)


def main():
    framework = Dict()
    framework.user = "root"
    framework.name = "pymesos-compat"
    framework.hostname = socket.gethostname()
    framework.failover_timeout = 60
    observer = Observer()
    driver = MesosSchedulerDriver(observer, framework, MASTER, use_addict=True)
    driver.start()
    try:
        observer.wait_for("SUBSCRIBED", lambda: observer.framework_id is not None)
        observer.wait_for("echo-task FINISHED",
                          lambda: observer.saw("echo-task", "TASK_FINISHED"))
        observer.wait_for("sleep-task RUNNING",
                          lambda: observer.saw("sleep-task", "TASK_RUNNING"))
        running = [u for u in observer.updates if u[0] == "sleep-task" and u[1] == "TASK_RUNNING"]
        if running[0][3] != "SOURCE_EXECUTOR" or not running[0][4]:
            raise SystemExit("FAIL: RUNNING should come from the executor with a uuid: %r" % (running[0],))

        driver.reconcileTasks([dict(task_id=dict(value="sleep-task"))])
        observer.wait_for("explicit reconciliation answer", lambda: observer.saw(
            "sleep-task", "TASK_RUNNING", "REASON_RECONCILIATION"))
        answer = [u for u in observer.updates if u[2] == "REASON_RECONCILIATION"][0]
        if answer[3] != "SOURCE_MASTER" or answer[4]:
            raise SystemExit("FAIL: reconciliation answers come from the master without uuid: %r" % (answer,))

        driver.reconcileTasks([dict(task_id=dict(value="never-launched"))])
        observer.wait_for("answer for an unknown task", lambda: any(
            u[0] == "never-launched" for u in observer.updates))

        driver.killTask(dict(value="sleep-task"))
        observer.wait_for("sleep-task KILLED", lambda: observer.saw("sleep-task", "TASK_KILLED"))
        print("OK", flush=True)
    finally:
        driver.stop()
        driver.join()


if __name__ == "__main__":
    main()
