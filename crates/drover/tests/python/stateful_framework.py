"""A stateful Mesos framework (pymesos 0.3.15) that a Rust test drives: it reserves resources
for its role, creates a persistent volume on them and runs tasks on that volume, the way
stateful frameworks did on Mesos. It speaks the pre-refinement reservation format (`role` and
`reservation`), as frameworks without RESERVATION_REFINEMENT do.

Usage: stateful_framework.py MASTER_HOST:PORT --name=NAME --role=ROLE --principal=PRINCIPAL
       [--partition-aware]

Printed lines:
  registered <framework id>
  accepted <task id> on <agent id>         the ACCEPT with RESERVE, CREATE and LAUNCH was sent
  launched <task id> on <agent id>         a LAUNCH on the reserved resources and volume
  volume <agent id> <persistence id> <container path>   an offer carried the volume
  update <json>                            task_id, state, reason, source, message

Commands (stdin):
  reserve_launch TASK_ID AGENT_ID VOLUME_ID COMMAND...  RESERVE cpus 0.2, mem 32, disk 16 for
      the role, CREATE volume VOLUME_ID (container path "data") on the disk, and LAUNCH
      COMMAND on them, in one ACCEPT of the next offer from AGENT_ID
  relaunch TASK_ID AGENT_ID VOLUME_ID COMMAND...  LAUNCH COMMAND on the next offer from
      AGENT_ID that carries the volume, with the reserved cpus and mem
  launch_stale TASK_ID AGENT_ID VOLUME_ID COMMAND...  LAUNCH COMMAND on the next offer from
      AGENT_ID with the volume as this framework created it, whether the offer has it or not
  kill TASK_ID
  exit
"""

import copy
import json
import socket
import sys
import threading

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler

MASTER = sys.argv[1]
OPTIONS = dict(arg[2:].split("=", 1) if "=" in arg else (arg[2:], True) for arg in sys.argv[2:])
ROLE = OPTIONS["role"]
PRINCIPAL = OPTIONS["principal"]


def out(*parts):
    print(*parts, flush=True)


def reserved(name, value):
    return dict(name=name, type="SCALAR", scalar=dict(value=value), role=ROLE,
                reservation=dict(principal=PRINCIPAL))


def volume(volume_id):
    disk = reserved("disk", 16)
    disk["disk"] = dict(persistence=dict(id=volume_id, principal=PRINCIPAL),
                        volume=dict(container_path="data", mode="RW"))
    return disk


def plain(resource):
    """A resource as pymesos hands it over, as a plain dict."""
    return json.loads(json.dumps(resource))


class Stateful(Scheduler):
    def __init__(self):
        self.lock = threading.Lock()
        self.pending = []  # (verb, task_id, agent_id, volume_id, command)

    def registered(self, driver, framework_id, master_info):
        out("registered", framework_id.value)

    def resourceOffers(self, driver, offers):
        for offer in offers:
            agent = offer.agent_id.value
            resources = [plain(r) for r in offer.resources]
            for r in resources:
                persistence = r.get("disk", {}).get("persistence")
                if persistence:
                    out("volume", agent, persistence["id"],
                        r["disk"].get("volume", {}).get("container_path"))
            with self.lock:
                mine = next((p for p in self.pending if p[2] == agent and self.fits(p, resources)),
                            None)
                if mine:
                    self.pending.remove(mine)
            if not mine:
                driver.declineOffer(offer.id, dict(refuse_seconds=1))
                continue
            verb, task_id, _, volume_id, command = mine
            task = Dict()
            task.task_id.value = task_id
            task.agent_id.value = agent
            task.name = task_id
            task.command.value = command
            task.resources = [reserved("cpus", 0.2), reserved("mem", 32), volume(volume_id)]
            operations = []
            if verb == "reserve_launch":
                operations.append(dict(type="RESERVE", reserve=dict(resources=[
                    reserved("cpus", 0.2), reserved("mem", 32), reserved("disk", 16)])))
                operations.append(dict(type="CREATE", create=dict(volumes=[volume(volume_id)])))
            elif verb == "launch_stale":
                # The framework still believes in its reservation and volume.
                pass
            operations.append(dict(type="LAUNCH", launch=dict(task_infos=[task])))
            driver.acceptOffers([offer.id], operations, dict(refuse_seconds=0))
            out("accepted" if verb == "reserve_launch" else "launched", task_id, "on", agent)

    def fits(self, pending, resources):
        verb, _, _, volume_id, _ = pending
        if verb != "relaunch":
            return True
        return any(r.get("disk", {}).get("persistence", {}).get("id") == volume_id
                   for r in resources)

    def statusUpdate(self, driver, update):
        out("update", json.dumps(dict(
            task_id=update.task_id.value,
            state=update.state,
            reason=update.get("reason"),
            source=update.get("source"),
            message=update.get("message"),
        ), sort_keys=True))

    def error(self, driver, message):
        out("error", message)


def commands(driver, scheduler):
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        verb = words[0]
        if verb in ("reserve_launch", "relaunch", "launch_stale"):
            with scheduler.lock:
                scheduler.pending.append((verb, words[1], words[2], words[3],
                                          " ".join(words[4:])))
            driver.reviveOffers()
        elif verb == "kill":
            driver.killTask(dict(value=words[1]))
        elif verb == "exit":
            break
        else:
            out("error unknown command", verb)
    driver.stop(failover=False)


def main():
    framework = Dict()
    framework.user = "root"
    framework.name = OPTIONS.get("name", "stateful")
    framework.hostname = socket.gethostname()
    framework.role = ROLE
    framework.principal = PRINCIPAL
    framework.checkpoint = True
    if OPTIONS.get("partition-aware"):
        framework.capabilities = [dict(type="PARTITION_AWARE")]
    scheduler = Stateful()
    driver = MesosSchedulerDriver(scheduler, framework, MASTER, use_addict=True)
    driver.start()
    reader = threading.Thread(target=commands, args=(driver, scheduler), daemon=True)
    reader.start()
    driver.join()
    out("stopped")


if __name__ == "__main__":
    main()
