"""A Mesos framework (pymesos 0.3.15) that a Rust test drives: it reads commands on stdin and
prints what it observes on stdout, one line each, so the test can inject faults between steps.

Usage: framework.py MASTER_HOST:PORT --name=NAME [--partition-aware] [--checkpoint] [--revocable]
                    [--framework-id=ID]

Printed lines:
  registered <framework id>          (first SUBSCRIBED; "reregistered <id>" afterwards)
  disconnected
  update <json>                      task_id, state, reason, source, uuid (bool), agent_id,
                                     message, unreachable_time (bool), timestamp
  failure <agent id>                 FAILURE without an executor id
  error <message>

Commands (stdin):
  launch TASK_ID AGENT_ID|* COMMAND...        a command task (cpus 0.1, mem 32)
  launch_executor TASK_ID AGENT_ID|* COMMAND...  a task run by a custom executor whose
                                               command is COMMAND (cpus 0.1, mem 32 each)
  launch_revocable TASK_ID AGENT_ID|* COMMAND... a command task on revocable cpus (0.5, from an
                                               offer that has them; --revocable) and mem 32
  reconcile TASK_ID [AGENT_ID]                explicit reconciliation of one task
  reconcile_all                               implicit reconciliation
  kill TASK_ID [AGENT_ID]
  exit                                        stop with failover (no TEARDOWN) and exit

Offers that no pending launch needs are declined with a short filter, so several frameworks
share the agents."""

import json
import socket
import sys
import threading

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler

MASTER = sys.argv[1]
OPTIONS = dict(arg[2:].split("=", 1) if "=" in arg else (arg[2:], True) for arg in sys.argv[2:])


def out(*parts):
    print(*parts, flush=True)


def scalar(name, value):
    return dict(name=name, type="SCALAR", scalar=dict(value=value))


class Driven(Scheduler):
    def __init__(self):
        self.lock = threading.Lock()
        self.pending = []  # (task_id, agent_id or "*", kind, command)
        self.subscribed = False

    def registered(self, driver, framework_id, master_info):
        with self.lock:
            word = "reregistered" if self.subscribed else "registered"
            self.subscribed = True
        out(word, framework_id.value)

    def reregistered(self, driver, master_info):
        out("reregistered", driver.framework_id)

    def disconnected(self, driver):
        out("disconnected")

    def resourceOffers(self, driver, offers):
        for offer in offers:
            agent = offer.agent_id.value
            revocable = sum(r.scalar.value for r in offer.resources
                            if r.name == "cpus" and "revocable" in r)
            if revocable:
                out("offer_revocable", agent, revocable)
            with self.lock:
                mine = [p for p in self.pending if p[1] in ("*", agent)
                        and (p[2] != "revocable" or revocable >= 0.5)]
                self.pending = [p for p in self.pending if p not in mine]
            if not mine:
                driver.declineOffer(offer.id, dict(refuse_seconds=1))
                continue
            tasks = [self.task(p, agent) for p in mine]
            driver.launchTasks(offer.id, tasks, dict(refuse_seconds=0))
            out("launched", *[p[0] for p in mine], "on", agent)

    def task(self, pending, agent):
        task_id, _, kind, command = pending
        task = Dict()
        task.task_id.value = task_id
        task.agent_id.value = agent
        task.name = task_id
        task.resources = [scalar("cpus", 0.1), scalar("mem", 32)]
        if kind == "revocable":
            cpus = scalar("cpus", 0.5)
            cpus["revocable"] = {}
            task.resources = [cpus, scalar("mem", 32)]
            task.command.value = command
        elif kind == "command":
            task.command.value = command
        else:
            task.executor.executor_id.value = "executor-" + task_id
            task.executor.name = "executor-" + task_id
            task.executor.command.value = command
            task.executor.resources = [scalar("cpus", 0.1), scalar("mem", 32)]
        return task

    def offerRescinded(self, driver, offer_id):
        pass

    def inverseOffers(self, driver, offers):
        for offer in offers:
            out("inverse", offer.id.value, offer.get("agent_id", {}).get("value"))

    def statusUpdate(self, driver, update):
        out("update", json.dumps(dict(
            task_id=update.task_id.value,
            state=update.state,
            reason=update.get("reason"),
            source=update.get("source"),
            uuid="uuid" in update,
            agent_id=update.get("agent_id", {}).get("value"),
            message=update.get("message"),
            unreachable_time="unreachable_time" in update,
            timestamp=update.get("timestamp"),
        ), sort_keys=True))

    def slaveLost(self, driver, agent_id):
        out("failure", agent_id.value)

    def executorLost(self, driver, executor_id, agent_id, status):
        out("executor_lost", executor_id.value, agent_id.value, status)

    def frameworkMessage(self, driver, executor_id, agent_id, message):
        out("message", executor_id.value, message)

    def error(self, driver, message):
        out("error", message)


def commands(driver, scheduler):
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        verb = words[0]
        if verb in ("launch", "launch_executor", "launch_revocable"):
            kind = {"launch": "command", "launch_executor": "executor",
                    "launch_revocable": "revocable"}[verb]
            with scheduler.lock:
                scheduler.pending.append((words[1], words[2], kind, " ".join(words[3:])))
            driver.reviveOffers()
        elif verb == "reconcile":
            # pymesos' reconcileTasks drops agent_id; send the call ourselves to keep it.
            task = dict(task_id=dict(value=words[1]))
            if len(words) > 2:
                task["agent_id"] = dict(value=words[2])
            if driver.connected:
                driver._send(dict(type="RECONCILE",
                                  framework_id=dict(value=driver.framework_id),
                                  reconcile=dict(tasks=[task])))
            else:
                out("error not connected: reconcile dropped")
        elif verb == "reconcile_all":
            driver.reconcileTasks([])
        elif verb == "kill":
            driver.killTask(dict(value=words[1]))
        elif verb in ("accept_inverse", "decline_inverse"):
            ids = [dict(value=words[1])]
            if verb == "accept_inverse":
                driver.acceptInverseOffers(ids)
            else:
                driver.declineInverseOffer(ids)
        elif verb == "exit":
            break
        else:
            out("error unknown command", verb)
    driver.stop(failover=True)


def main():
    framework = Dict()
    framework.user = "root"
    framework.name = OPTIONS.get("name", "driven")
    framework.hostname = socket.gethostname()
    framework.failover_timeout = 3600
    if OPTIONS.get("checkpoint"):
        framework.checkpoint = True
    framework.capabilities = []
    if OPTIONS.get("partition-aware"):
        framework.capabilities.append(dict(type="PARTITION_AWARE"))
    if OPTIONS.get("revocable"):
        framework.capabilities.append(dict(type="REVOCABLE_RESOURCES"))
    if OPTIONS.get("framework-id"):
        framework.id.value = OPTIONS["framework-id"]
    scheduler = Driven()
    if OPTIONS.get("framework-id"):
        scheduler.subscribed = True
    if OPTIONS.get("principal"):
        framework.principal = OPTIONS["principal"]
    # With --secret the driver sends HTTP Basic credentials (a master with
    # --authenticate_http_frameworks).
    driver = MesosSchedulerDriver(
        scheduler,
        framework,
        MASTER,
        use_addict=True,
        principal=OPTIONS.get("principal"),
        secret=OPTIONS.get("secret"),
    )
    driver.start()
    reader = threading.Thread(target=commands, args=(driver, scheduler), daemon=True)
    reader.start()
    driver.join()
    out("stopped")


if __name__ == "__main__":
    main()
