"""marathon-python 0.13.0's Docker model classes against `drover marathon`: MarathonApp with a
MarathonContainer / MarathonDockerContainer / MarathonContainerPortMapping / MarathonContainerVolume,
in Marathon 1.4's spelling (docker.network BRIDGE, docker.portMappings) and 1.5's (networks,
container.portMappings); both read back normalized as Marathon 1.10 shows them, the task carries
the offered host port (checked against the master's view of the TaskInfo), and a resident app
(a persistent volume) whose role is `*` is refused with a 422 naming the role.

Usage: marathon_docker.py MARATHON_URL MASTER_URL. The agent is paused by the caller, so tasks
stay staged. Exits 0 and prints OK when every expectation held."""

import collections
import collections.abc
import json
import sys
import time
import urllib.request

# marathon-python 0.13.0 predates Python 3.10 (see marathon_client.py).
collections.Iterable = collections.abc.Iterable

from marathon import MarathonClient, MarathonHttpError
from marathon.models import MarathonApp
from marathon.models.container import (
    MarathonContainer,
    MarathonContainerPortMapping,
    MarathonContainerVolume,
    MarathonDockerContainer,
)

MARATHON, MASTER = sys.argv[1], sys.argv[2]
DEADLINE_SECONDS = 60
client = MarathonClient(MARATHON)


def check(what, condition):
    if not condition:
        raise SystemExit("FAIL: " + what)


def wait_for(what, predicate):
    deadline = time.time() + DEADLINE_SECONDS
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as error:
            last = error
        time.sleep(0.2)
    raise SystemExit("FAIL: timed out waiting for %s (last: %r)" % (what, last))


def master_task(task_id):
    with urllib.request.urlopen(MASTER + "/master/state") as answer:
        state = json.load(answer)
    for framework in state["frameworks"]:
        for task in framework["tasks"] + framework.get("completed_tasks", []):
            if task["id"] == task_id:
                return task
    return None


# Marathon 1.4's spelling, as marathon-python's classes write it.
legacy = MarathonApp(
    cmd="python3 -m http.server 8080",
    cpus=0.1,
    mem=16,
    instances=1,
    container=MarathonContainer(
        type="DOCKER",
        docker=MarathonDockerContainer(
            image="localhost:5000/py:3",
            network="BRIDGE",
            port_mappings=[
                MarathonContainerPortMapping(
                    name="web", container_port=8080, host_port=0, protocol="tcp"
                )
            ],
            parameters=[{"key": "label", "value": "team=web"}],
        ),
        volumes=[MarathonContainerVolume(container_path="/data", host_path="/tmp", mode="RW")],
    ),
)
created = client.create_app("/compat/docker-legacy", legacy)
check("create answered with the app", created and created.id == "/compat/docker-legacy")

app = client.get_app("/compat/docker-legacy")
check("image kept", app.container.docker.image == "localhost:5000/py:3")
check("type kept", app.container.type == "DOCKER")
check("network normalized to networks", app.networks == [{"mode": "container/bridge"}])
check(
    "docker.network is not echoed (Marathon 1.10 drops it)",
    not getattr(app.container.docker, "network", None),
)
mappings = app.container.port_mappings
check("mapping moved to container.portMappings", len(mappings) == 1)
check("container port", mappings[0].container_port == 8080)
check("host port 0 = from the offer", mappings[0].host_port == 0)
check("service port assigned", 10000 <= mappings[0].service_port < 20000)
check("name kept", mappings[0].name == "web")
check("parameters kept", app.container.docker.parameters == [{"key": "label", "value": "team=web"}])
check("volume kept", app.container.volumes[0].host_path == "/tmp")

task = wait_for(
    "a staged task with a host port",
    lambda: [t for t in client.list_tasks("/compat/docker-legacy") if t.ports],
)[0]
host_port = task.ports[0]
check("host port from the agent's range", 31000 <= host_port <= 31999)
seen = wait_for("the master to know the task", lambda: master_task(task.id))
docker = seen["container"]["docker"]
check("the master got the image", docker["image"] == "localhost:5000/py:3")
check("the master got the host port", docker["port_mappings"][0]["host_port"] == host_port)
check("the master got the container port", docker["port_mappings"][0]["container_port"] == 8080)

# Marathon 1.5's spelling: networks + container.portMappings.
current = MarathonApp(
    cpus=0.1,
    mem=16,
    instances=0,
    networks=[{"mode": "container/bridge"}],
    container=MarathonContainer(
        type="DOCKER",
        docker=MarathonDockerContainer(image="nginx:1.25", force_pull_image=True),
        port_mappings=[MarathonContainerPortMapping(container_port=80, host_port=0, protocol="tcp")],
    ),
)
client.create_app("/compat/docker-current", current)
app = client.get_app("/compat/docker-current")
check("force pull kept", app.container.docker.force_pull_image is True)
check("1.5 mappings kept", app.container.port_mappings[0].container_port == 80)

# An image change is a new version (a restart of the tasks, see the core's tests).
before = app.version
client.update_app(
    "/compat/docker-current",
    MarathonApp(
        container=MarathonContainer(
            type="DOCKER",
            docker=MarathonDockerContainer(image="nginx:1.26"),
            port_mappings=[MarathonContainerPortMapping(container_port=80, host_port=0)],
        )
    ),
)
app = wait_for(
    "the new image",
    lambda: (lambda a: a if a.container.docker.image == "nginx:1.26" else None)(
        client.get_app("/compat/docker-current")
    ),
)
check("new version", app.version != before)
check("still bridged", app.networks == [{"mode": "container/bridge"}])

# A persistent volume makes the app resident, which reserves for the app's role: `*` is
# refused by name (the scheduler runs without --mesos_role here), and nothing is created.
try:
    client.create_app(
        "/compat/docker-resident",
        MarathonApp(
            cmd="sleep 100",
            container=MarathonContainer(
                type="MESOS",
                volumes=[
                    MarathonContainerVolume(
                        container_path="data", mode="RW", persistent={"size": 10}
                    )
                ],
            ),
        ),
    )
    raise SystemExit("FAIL: a resident app for role * was accepted")
except MarathonHttpError as error:
    check("422", error.status_code == 422)
    details = json.dumps(error.error_details)
    check("names the field: " + details, '"/role"' in details and "mesos_role" in details)
ids = [a.id for a in client.list_apps()]
check("nothing created", "/compat/docker-resident" not in ids)

print("OK")
