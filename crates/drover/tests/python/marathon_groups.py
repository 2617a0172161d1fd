"""marathon-python 0.13.0's group calls against `drover marathon`: create_group, get_group,
list_groups, update_group, scale_group, delete_group, with a dependency between two apps.

Usage: marathon_groups.py http://HOST:PORT. Exits 0 (printing OK) when every expectation held."""

import collections
import collections.abc
import sys
import time

# marathon-python 0.13.0 predates Python 3.10 (see marathon_client.py).
collections.Iterable = collections.abc.Iterable

from marathon import MarathonClient
from marathon.models import MarathonApp
from marathon.models.group import MarathonGroup

# Marathon 1.9 added `enforceRole` to every group it returns (1.10 keeps it); marathon-python
# 0.13.0 predates it and its MarathonGroup constructor rejects the key. Accept and keep it, as a
# newer client would: the wire format is Marathon 1.10's.
_init = MarathonGroup.__init__


def _init_with_enforce_role(self, *args, enforce_role=None, **kwargs):
    _init(self, *args, **kwargs)
    self.enforce_role = enforce_role


MarathonGroup.__init__ = _init_with_enforce_role

URL = sys.argv[1]
GROUP = "/pycompat"
DEADLINE_SECONDS = 120

client = MarathonClient(URL)


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


def no_deployments():
    return client.list_deployments() == []


def running(app_id):
    return [t for t in client.list_tasks(app_id) if t.state == "TASK_RUNNING"]


def main():
    db = MarathonApp(id="db", cmd="sleep 600", cpus=0.05, mem=16, instances=1)
    web = MarathonApp(id="web", cmd="sleep 600", cpus=0.05, mem=16, instances=1,
                      dependencies=["db"])
    group = MarathonGroup(id=GROUP, apps=[db, web])
    created = client.create_group(group)
    assert "deploymentId" in created and "version" in created, created
    wait_for("the group's deployment", no_deployments)
    wait_for("db running", lambda: running(GROUP + "/db"))
    wait_for("web running", lambda: running(GROUP + "/web"))

    got = client.get_group(GROUP)
    assert got.id == GROUP, got.id
    ids = sorted(a.id for a in got.apps)
    assert ids == [GROUP + "/db", GROUP + "/web"], ids
    web_app = [a for a in got.apps if a.id == GROUP + "/web"][0]
    assert web_app.dependencies == [GROUP + "/db"], web_app.dependencies

    listed = client.list_groups()
    assert any(g.id == GROUP for g in listed), [g.id for g in listed]

    update = MarathonGroup(id=GROUP, apps=[
        MarathonApp(id="db", cmd="sleep 600", cpus=0.05, mem=16, instances=2),
        MarathonApp(id="web", cmd="sleep 600", cpus=0.05, mem=16, instances=1,
                    dependencies=["db"]),
    ])
    updated = client.update_group(GROUP, update)
    assert "deploymentId" in updated, updated
    wait_for("db scaled to 2", lambda: len(running(GROUP + "/db")) == 2)
    wait_for("the update's deployment", no_deployments)

    scaled = client.scale_group(GROUP, 2)
    assert "deploymentId" in scaled, scaled
    wait_for("db scaled to 4", lambda: len(running(GROUP + "/db")) == 4)
    wait_for("web scaled to 2", lambda: len(running(GROUP + "/web")) == 2)
    wait_for("the scale's deployment", no_deployments)
    assert client.get_app(GROUP + "/db").instances == 4

    deleted = client.delete_group(GROUP)
    assert "deploymentId" in deleted, deleted
    wait_for("the delete's deployment", no_deployments)
    assert not any(g.id == GROUP for g in client.list_groups())
    assert [a.id for a in client.list_apps() if a.id.startswith(GROUP + "/")] == []
    print("OK")


if __name__ == "__main__":
    main()
