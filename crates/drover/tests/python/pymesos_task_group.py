"""A real Mesos framework (pymesos 0.3.15) launches a task group on Drover (issue 16): one
LAUNCH_GROUP of two tasks under Mesos' default executor. Both run and share a SANDBOX_PATH volume
(the writer writes a file, the reader reads it through its own mount and answers), then the
writer fails; the default executor kills the reader, as Mesos' did. Every update carries the
group's executor id.

Usage: pymesos_task_group.py MASTER_HOST:PORT. Prints one line per update and exits 0 when every
expectation held, 1 otherwise (with the reason)."""

import socket
import sys
import threading
import time

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler

MASTER = sys.argv[1]
DEADLINE_SECONDS = 90
EXECUTOR_ID = "group-executor"


def scalar(name, value):
    return dict(name=name, type="SCALAR", scalar=dict(value=value))


def member(task_id, agent_id, command):
    return dict(
        task_id=dict(value=task_id),
        agent_id=dict(value=agent_id),
        name=task_id,
        command=dict(value=command),
        resources=[scalar("cpus", 0.1), scalar("mem", 32)],
        container=dict(
            type="MESOS",
            volumes=[dict(mode="RW", container_path="vol",
                          source=dict(type="SANDBOX_PATH",
                                      sandbox_path=dict(type="PARENT", path="shared")))]),
    )


class Observer(Scheduler):
    def __init__(self):
        self.lock = threading.Lock()
        self.framework_id = None
        self.launched = False
        self.updates = []  # (task_id, state, reason, source, executor_id, message)
        self.changed = threading.Condition(self.lock)

    def registered(self, driver, framework_id, master_info):
        with self.lock:
            self.framework_id = framework_id.value
            self.changed.notify_all()

    def resourceOffers(self, driver, offers):
        for offer in offers:
            with self.lock:
                launch = not self.launched
                self.launched = True
                framework_id = self.framework_id
            if not launch:
                driver.declineOffer(offer.id)
                continue
            agent = offer.agent_id.value
            group = dict(
                type="LAUNCH_GROUP",
                launch_group=dict(
                    executor=dict(
                        type="DEFAULT",
                        executor_id=dict(value=EXECUTOR_ID),
                        framework_id=dict(value=framework_id),
                        resources=[scalar("cpus", 0.1), scalar("mem", 32)],
                    ),
                    task_group=dict(tasks=[
                        member("writer", agent,
                               "echo from-writer > vol/msg && "
                               "while [ ! -e vol/ack ]; do sleep 0.05; done; exit 3"),
                        member("reader", agent,
                               "while [ ! -e vol/msg ]; do sleep 0.05; done; "
                               "grep -q from-writer vol/msg && touch vol/ack; exec sleep 600"),
                    ]),
                ),
            )
            print("launching a group on", agent, flush=True)
            driver.acceptOffers([offer.id], [group])

    def statusUpdate(self, driver, update):
        with self.lock:
            entry = (update.task_id.value, update.state, update.get("reason"),
                     update.get("source"), update.get("executor_id", {}).get("value"),
                     update.get("message"))
            self.updates.append(entry)
            print("update", *entry, flush=True)
            self.changed.notify_all()

    def wait_for(self, what, predicate):
        deadline = time.time() + DEADLINE_SECONDS
        with self.lock:
            while not predicate():
                remaining = deadline - time.time()
                if remaining <= 0:
                    raise SystemExit("FAIL: timed out waiting for " + what)
                self.changed.wait(remaining)

    def saw(self, task_id, state):
        return any(u[0] == task_id and u[1] == state for u in self.updates)


def main():
    framework = Dict()
    framework.user = "root"
    framework.name = "pymesos-task-group"
    framework.hostname = socket.gethostname()
    framework.failover_timeout = 60
    observer = Observer()
    driver = MesosSchedulerDriver(observer, framework, MASTER, use_addict=True)
    driver.start()
    try:
        observer.wait_for("SUBSCRIBED", lambda: observer.framework_id is not None)
        for task in ("writer", "reader"):
            observer.wait_for(task + " RUNNING", lambda: observer.saw(task, "TASK_RUNNING"))
        observer.wait_for("writer FAILED", lambda: observer.saw("writer", "TASK_FAILED"))
        observer.wait_for("reader KILLED", lambda: observer.saw("reader", "TASK_KILLED"))
        failed = [u for u in observer.updates if u[0] == "writer" and u[1] == "TASK_FAILED"][0]
        if failed[5] != "Command exited with status 3":
            raise SystemExit("FAIL: the writer's end: %r" % (failed,))
        killed = [u for u in observer.updates if u[0] == "reader" and u[1] == "TASK_KILLED"][0]
        if "task 'writer' failed" not in (killed[5] or ""):
            raise SystemExit("FAIL: the reader's kill should name the writer: %r" % (killed,))
        for u in observer.updates:
            if u[3] == "SOURCE_EXECUTOR" and u[4] != EXECUTOR_ID:
                raise SystemExit("FAIL: an update without the group's executor id: %r" % (u,))
        print("OK", flush=True)
    finally:
        driver.stop()
        driver.join()


if __name__ == "__main__":
    main()
