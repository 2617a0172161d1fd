"""A real Mesos framework (pymesos 0.3.15) grows and shrinks a default executor's container
(issue 16 item 4): a first LAUNCH_GROUP starts the executor with "hog" (declares 32 MB, holds
~150 MB: every task here shares the executor's cgroups, `linux_info.share_cgroups: true`
— a group must agree on it, as in Mesos — so only the container's total bounds it; without it
each task's own nested cgroup would hold it to its 32 MB) and "big" (declares 300 MB, waits for hog's memory and a file); a second LAUNCH_GROUP for the same
running executor adds "late" (64 MB), which runs beside them, in the same executor, and writes
that file; "big" then finishes and the agent shrinks the container to 32 + 32 + 64 MB, below what
"hog" holds. The kernel refuses; the agent destroys the container and every task of it ends
TASK_LOST / REASON_CONTAINER_UPDATE_FAILED from the agent (seed 1, L109), or TASK_GONE when the
framework is partition-aware (L142).

Usage: pymesos_group_resize.py MASTER_HOST:PORT [--partition-aware]. Prints one line per update and exits 0 when
every expectation held, 1 otherwise (with the reason)."""

import socket
import sys
import threading
import time

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler

MASTER = sys.argv[1]
PARTITION_AWARE = "--partition-aware" in sys.argv[2:]
# What a task of the destroyed container ends as.
ENDED = "TASK_GONE" if PARTITION_AWARE else "TASK_LOST"
DEADLINE_SECONDS = 90
EXECUTOR_ID = "resize-executor"
HOG = ("python3 -c \"import time; b = b'x' * (150 * 1024 * 1024); "
       "open('hog-ready', 'w').close(); time.sleep(600)\"")


def scalar(name, value):
    return dict(name=name, type="SCALAR", scalar=dict(value=value))


def member(task_id, agent_id, command, mem):
    task = dict(task_id=dict(value=task_id), agent_id=dict(value=agent_id), name=task_id,
                command=dict(value=command),
                resources=[scalar("cpus", 0.1), scalar("mem", mem)])
    task["container"] = dict(type="MESOS", linux_info=dict(share_cgroups=True))
    return task


class Observer(Scheduler):
    def __init__(self):
        self.lock = threading.Lock()
        self.framework_id = None
        self.groups = []  # the groups still to launch, in order
        self.updates = []  # (task_id, state, reason, source, executor_id, message)
        self.changed = threading.Condition(self.lock)

    def registered(self, driver, framework_id, master_info):
        with self.lock:
            self.framework_id = framework_id.value
            self.changed.notify_all()

    def executor(self):
        return dict(type="DEFAULT", executor_id=dict(value=EXECUTOR_ID),
                    framework_id=dict(value=self.framework_id),
                    resources=[scalar("cpus", 0.1), scalar("mem", 32)])

    def resourceOffers(self, driver, offers):
        for offer in offers:
            with self.lock:
                group = self.groups.pop(0) if self.groups else None
                executor = self.executor()
            if group is None:
                driver.declineOffer(offer.id, dict(refuse_seconds=1))
                continue
            agent = offer.agent_id.value
            tasks = [member(t, agent, c, m) for (t, c, m) in group]
            print("launching", [t for (t, _, _) in group], "on", agent, flush=True)
            driver.acceptOffers([offer.id], [dict(
                type="LAUNCH_GROUP",
                launch_group=dict(executor=executor, task_group=dict(tasks=tasks)))],
                dict(refuse_seconds=1))

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

    def update_of(self, task_id, state):
        return [u for u in self.updates if u[0] == task_id and u[1] == state][0]


def main():
    framework = Dict()
    framework.user = "root"
    framework.name = "pymesos-group-resize"
    framework.hostname = socket.gethostname()
    framework.failover_timeout = 60
    if PARTITION_AWARE:
        framework.capabilities = [dict(type="PARTITION_AWARE")]
    observer = Observer()
    observer.groups = [
        [("hog", HOG, 32),
         ("big", "while [ ! -e ../late-ran ] || [ ! -e ../hog/hog-ready ]; do sleep 0.05; "
                 "done; exit 0", 300)],
    ]
    driver = MesosSchedulerDriver(observer, framework, MASTER, use_addict=True)
    driver.start()
    try:
        observer.wait_for("SUBSCRIBED", lambda: observer.framework_id is not None)
        for task in ("hog", "big"):
            observer.wait_for(task + " RUNNING", lambda: observer.saw(task, "TASK_RUNNING"))
        # The second group goes to the running executor with the next offer.
        with observer.lock:
            observer.groups.append(
                [("late", "touch ../late-ran; exec sleep 600", 64)])
        driver.reviveOffers()
        observer.wait_for("late RUNNING", lambda: observer.saw("late", "TASK_RUNNING"))
        observer.wait_for("big FINISHED", lambda: observer.saw("big", "TASK_FINISHED"))
        for task in ("hog", "late"):
            observer.wait_for(task + " " + ENDED, lambda: observer.saw(task, ENDED))
            lost = observer.update_of(task, ENDED)
            if lost[2] != "REASON_CONTAINER_UPDATE_FAILED" or lost[3] != "SOURCE_AGENT":
                raise SystemExit("FAIL: %s should be lost to the failed update: %r"
                                 % (task, lost))
            if "memory.limit_in_bytes" not in (lost[5] or "") and "memory.max" not in (lost[5] or ""):
                raise SystemExit("FAIL: the message should name the refused limit: %r" % (lost,))
        for u in observer.updates:
            if u[4] not in (None, EXECUTOR_ID):
                raise SystemExit("FAIL: an update of another executor: %r" % (u,))
        print("OK", flush=True)
    finally:
        driver.stop()
        driver.join()


if __name__ == "__main__":
    main()
