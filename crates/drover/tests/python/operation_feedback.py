"""A plain Scheduler HTTP API v1 client (Python's standard library only: no framework library
speaks operation feedback) for the operation-feedback test: subscribe in role `db`, RESERVE
part of the first offer with an operation `id`, and report every UPDATE_OPERATION_STATUS.

Usage: operation_feedback.py MASTER_HOST:PORT --name=NAME. Line protocol on stdout:
`registered <framework id>`, `offer <agent id>`, `operation <status json>`, `answer <status
code> <body>`. Commands on stdin: `reserve <operation id>` (RESERVE 1 cpu of the held offer),
`ack <operation id>` (acknowledge the latest status with a uuid of that operation),
`ack_bogus <operation id>` (acknowledge a uuid the master never sent), `reconcile [<operation
id>:<agent id or ->]...` (none: implicit), `exit`."""

import base64
import http.client
import json
import sys
import threading

HOST, PORT = sys.argv[1].split(":")
NAME = next((a.split("=", 1)[1] for a in sys.argv[2:] if a.startswith("--name=")), "opf")
ROLE = "db"

state = {"framework_id": None, "stream_id": None, "offer": None, "statuses": {}}
lock = threading.Condition()


printing = threading.Lock()


def out(*parts):
    # The event stream's thread and the command loop both print: one whole line at a time.
    with printing:
        sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
        sys.stdout.flush()


def records(response):
    """RecordIO: `<length>\\n<json>` records."""
    while True:
        header = b""
        while not header.endswith(b"\n"):
            byte = response.read(1)
            if not byte:
                return
            header += byte
        yield json.loads(response.read(int(header)))


def call(body):
    connection = http.client.HTTPConnection(HOST, int(PORT), timeout=30)
    with lock:
        body["framework_id"] = {"value": state["framework_id"]}
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "Mesos-Stream-Id": state["stream_id"]}
    connection.request("POST", "/api/v1/scheduler", json.dumps(body), headers)
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    return response.status, text


def subscribe():
    connection = http.client.HTTPConnection(HOST, int(PORT))
    info = {"user": "root", "name": NAME, "roles": [ROLE], "principal": "opf",
            "capabilities": [{"type": "MULTI_ROLE"}, {"type": "RESERVATION_REFINEMENT"}]}
    connection.request("POST", "/api/v1/scheduler",
                       json.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}),
                       {"Content-Type": "application/json", "Accept": "application/json"})
    response = connection.getresponse()
    if response.status != 200:
        raise SystemExit("SUBSCRIBE answered %d: %s" % (response.status, response.read()))
    with lock:
        state["stream_id"] = response.getheader("Mesos-Stream-Id")
    for event in records(response):
        kind = event.get("type")
        if kind == "SUBSCRIBED":
            with lock:
                state["framework_id"] = event["subscribed"]["framework_id"]["value"]
            out("registered", state["framework_id"])
        elif kind == "OFFERS":
            for offer in event["offers"]["offers"]:
                with lock:
                    keep = state["offer"] is None
                    if keep:
                        state["offer"] = offer
                if keep:
                    out("offer", offer["agent_id"]["value"])
                else:
                    call({"type": "DECLINE", "decline": {"offer_ids": [offer["id"]],
                                                         "filters": {"refuse_seconds": 1}}})
        elif kind == "UPDATE_OPERATION_STATUS":
            status = event["update_operation_status"]["status"]
            with lock:
                if "uuid" in status:
                    state["statuses"][status["operation_id"]["value"]] = status
            out("operation", json.dumps(status, sort_keys=True))


def reserve(operation_id):
    with lock:
        offer = state["offer"]
        state["offer"] = None
    resource = {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1},
                "reservations": [{"type": "DYNAMIC", "role": ROLE, "principal": "opf"}]}
    return call({"type": "ACCEPT", "accept": {
        "offer_ids": [offer["id"]],
        "operations": [{"type": "RESERVE", "id": {"value": operation_id},
                        "reserve": {"resources": [resource]}}],
        "filters": {"refuse_seconds": 1}}})


def acknowledge(operation_id, bogus):
    with lock:
        status = state["statuses"][operation_id]
    uuid = status["uuid"]["value"]
    if bogus:
        uuid = base64.b64encode(b"\x07" * 16).decode()
    return call({"type": "ACKNOWLEDGE_OPERATION_STATUS", "acknowledge_operation_status": {
        "agent_id": status["agent_id"], "uuid": uuid,
        "operation_id": {"value": operation_id}}})


def reconcile(pairs):
    operations = []
    for pair in pairs:
        operation_id, agent_id = pair.split(":", 1)
        entry = {"operation_id": {"value": operation_id}}
        if agent_id != "-":
            entry["agent_id"] = {"value": agent_id}
        operations.append(entry)
    return call({"type": "RECONCILE_OPERATIONS",
                 "reconcile_operations": {"operations": operations}})


threading.Thread(target=subscribe, daemon=True).start()
for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    if words[0] == "exit":
        break
    if words[0] == "reserve":
        code, body = reserve(words[1])
    elif words[0] == "ack":
        code, body = acknowledge(words[1], False)
    elif words[0] == "ack_bogus":
        code, body = acknowledge(words[1], True)
    elif words[0] == "reconcile":
        code, body = reconcile(words[1:])
    else:
        code, body = 0, "unknown command " + words[0]
    out("answer", code, body)
