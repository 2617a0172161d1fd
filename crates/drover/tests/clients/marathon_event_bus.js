// marathon-event-bus-client 0.1.7 (npm), a listener of Marathon's Server-Sent Event Bus with one
// handler per event type, against Drover's /v2/events: it must see an app's deployment from
// start to success, its task's status updates and instance changes, and its removal.
//
// Usage: node marathon_event_bus.js HOST PORT. Prints what it observes and "OK" when every
// expectation held; exits 1 with the reason otherwise.
"use strict";

const MarathonEventBusClient = require("marathon-event-bus-client");

const [host, port] = process.argv.slice(2);
const base = `http://${host}:${port}`;
const APP = "/compat/event-bus";
const DEADLINE_MS = 90000;
const TYPES = ["deployment_info", "deployment_success", "status_update_event", "instance_changed_event", "app_terminated_event"];

const seen = []; // { name, data } in the order the handlers ran
const handlers = {};
for (const type of TYPES) {
  handlers[type] = (name, data) => {
    seen.push({ name, data });
    console.log("event " + name + " " + JSON.stringify(data).slice(0, 160));
  };
}

function fail(why) {
  console.log("FAIL: " + why);
  process.exit(1);
}

async function waitFor(what, predicate) {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = predicate();
    if (value) return value;
    if (Date.now() > deadline) fail("timed out waiting for " + what);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main() {
  const bus = new MarathonEventBusClient({ marathonHost: host, marathonPort: port, eventTypes: TYPES, handlers });
  let subscribed = false;
  let unsubscribed = false;
  bus.on("subscribed", () => (subscribed = true));
  bus.on("unsubscribed", () => (unsubscribed = true));
  bus.on("error", (error) => console.log("bus error " + JSON.stringify(error)));
  bus.subscribe();
  await waitFor("the subscription", () => subscribed);

  const response = await fetch(base + "/v2/apps", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ id: APP, cmd: "sleep 300", cpus: 0.1, mem: 32, instances: 1 }),
  });
  if (response.status !== 201) fail("creating the app answered " + response.status);
  const deployment = (await response.json()).deployments[0].id;

  const info = await waitFor("deployment_info", () => seen.find((e) => e.name === "deployment_info" && e.data.plan.id === deployment));
  if (!info.data.currentStep || !Array.isArray(info.data.currentStep.actions)) fail("deployment_info without its current step");
  const running = await waitFor("the task running", () =>
    seen.find((e) => e.name === "status_update_event" && e.data.appId === APP && e.data.taskStatus === "TASK_RUNNING"));
  await waitFor("the instance change", () =>
    seen.find((e) => e.name === "instance_changed_event" && e.data.runSpecId === APP && e.data.condition === "Running"));
  await waitFor("deployment_success", () => seen.find((e) => e.name === "deployment_success" && e.data.id === deployment));
  const order = (predicate) => seen.findIndex(predicate);
  if (order((e) => e.name === "deployment_info") > order((e) => e.name === "deployment_success")) {
    fail("deployment_success came before deployment_info");
  }

  const removal = await fetch(base + "/v2/apps" + APP, { method: "DELETE" });
  if (removal.status !== 200) fail("removing the app answered " + removal.status);
  await waitFor("app_terminated_event", () => seen.find((e) => e.name === "app_terminated_event" && e.data.appId === APP));
  await waitFor("the task killed", () =>
    seen.find((e) => e.name === "status_update_event" && e.data.taskId === running.data.taskId && e.data.taskStatus === "TASK_KILLED"));

  bus.unsubscribe();
  await waitFor("the unsubscription", () => unsubscribed);
  console.log("OK");
  process.exit(0);
}

main().catch((error) => fail(error && error.stack ? error.stack : String(error)));
