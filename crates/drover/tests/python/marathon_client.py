"""The Marathon client library marathon-python 0.13.0 against `drover marathon`: every endpoint it
has that Drover serves — create, list, get, scale, kill with and without scale, restart, update,
delete, tasks, deployments, queue, info, leader, ping and the event stream. The library breaks on
JSON fields it does not know, so this also checks the shapes.

Usage: marathon_client.py http://HOST:PORT [USER PASSWORD]. Exits 0 when every expectation held."""

import collections
import collections.abc
import sys
import threading
import time

# marathon-python 0.13.0 predates Python 3.10, which removed the ABC aliases from `collections`
# (its JSON encoder uses collections.Iterable); restore the one it needs.
collections.Iterable = collections.abc.Iterable

from marathon import MarathonClient
from marathon.models import MarathonApp

URL = sys.argv[1]
APP = "/compat/sleeper"
DEADLINE_SECONDS = 120

# Optional credentials (a scheduler started with --http_credentials).
if len(sys.argv) > 3:
    client = MarathonClient(URL, username=sys.argv[2], password=sys.argv[3])
else:
    client = MarathonClient(URL)


def wait_for(what, predicate):
    deadline = time.time() + DEADLINE_SECONDS
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as error:  # the app may not exist yet, for example
            last = error
        time.sleep(0.2)
    raise SystemExit("FAIL: timed out waiting for %s (last: %r)" % (what, last))


def running_tasks():
    return [t for t in client.list_tasks(APP) if t.state == "TASK_RUNNING"]


events = []


def follow_events():
    try:
        for event in client.event_stream(event_types=["status_update_event", "deployment_success"]):
            events.append(event)
    except Exception as error:
        events.append(error)


def main():
    assert client.ping() is not None, "ping"
    info = client.get_info()
    print("info", info.name, info.version, flush=True)
    print("leader", client.get_leader(), flush=True)

    threading.Thread(target=follow_events, daemon=True).start()

    client.create_app(APP, MarathonApp(cmd="sleep 300", cpus=0.1, mem=32, instances=1))
    wait_for("1 running task", lambda: len(running_tasks()) == 1)
    assert any(app.id == APP for app in client.list_apps()), "list_apps"
    app = client.get_app(APP)
    print("app", app.id, app.instances, app.tasks_running, flush=True)

    client.scale_app(APP, instances=2)
    wait_for("2 running tasks", lambda: len(running_tasks()) == 2 and not client.list_deployments())

    victim = running_tasks()[0].id
    client.kill_task(APP, victim)
    wait_for("a replacement for the killed task", lambda: len(running_tasks()) == 2
             and victim not in [t.id for t in running_tasks()])

    client.kill_task(APP, running_tasks()[0].id, scale=True)
    # Killing with scale=true starts a scale deployment, and Marathon refuses a restart (409) while
    # one is under way, so wait for it to finish as a real client must.
    wait_for("scaled down to 1", lambda: client.get_app(APP).instances == 1
             and len(running_tasks()) == 1 and not client.list_deployments())

    before = running_tasks()[0].id
    client.restart_app(APP)
    print("deployments", client.list_deployments(), flush=True)
    wait_for("restart to finish", lambda: not client.list_deployments()
             and [t.id for t in running_tasks()] not in ([], [before]))

    app = client.get_app(APP)
    app.cmd = "sleep 301"
    client.update_app(APP, app)
    wait_for("update to finish", lambda: not client.list_deployments()
             and client.get_app(APP).cmd == "sleep 301" and len(running_tasks()) == 1)

    print("queue", client.list_queue(), flush=True)
    assert isinstance(client.list_tasks(), list)

    client.delete_app(APP)
    wait_for("app removed", lambda: APP not in [a.id for a in client.list_apps()])

    wait_for("status_update_event on the event stream", lambda: any(
        getattr(e, "event_type", None) == "status_update_event" for e in events))
    print("OK", flush=True)


if __name__ == "__main__":
    main()
