// marathon-node 1.1.0 (npm), a Promise-based client of Marathon's REST API v2, against Drover's
// Marathon-compatible scheduler: server info, the event stream through its EventSource helper,
// an app's whole life (create, scale, versions, kill a task and see it replaced, restart,
// destroy), the task, deployment and queue lists, and Marathon's error answers.
//
// Usage: node marathon_node_client.js http://HOST:PORT. Prints what it observes and "OK" when
// every expectation held; exits 1 with the reason otherwise.
"use strict";

const marathon = require("marathon-node")(process.argv[2]);

const APP = "/compat/marathon-node";
const DEADLINE_MS = 90000;
const events = [];

function fail(why) {
  console.log("FAIL: " + why);
  process.exit(1);
}

function check(condition, why) {
  if (!condition) fail(why);
}

async function waitFor(what, predicate) {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) fail("timed out waiting for " + what);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Waits until no deployment touches the app and `tasksRunning` is `count`.
async function settled(count) {
  return waitFor(`${APP} settled at ${count} running`, async () => {
    const deployments = await marathon.deployments.getList();
    if (deployments.some((d) => d.affectedApps.includes(APP))) return false;
    const { app } = await marathon.apps.getOne(APP);
    return app.tasksRunning === count && app.tasks.length === count ? app : false;
  });
}

// The error a rejected request carries: request-promise's StatusCodeError.
async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  fail("the request should have been refused");
}

async function main() {
  check((await marathon.misc.ping()) !== undefined, "no answer to /ping");
  const info = await marathon.info.get();
  check(info.name && info.version && info.frameworkId, "/v2/info lacks name/version/frameworkId: " + JSON.stringify(info));
  const leader = await marathon.leader.get();
  check(typeof leader.leader === "string" && leader.leader.length > 0, "no leader: " + JSON.stringify(leader));
  console.log("info " + info.name + " " + info.version + " leader " + leader.leader);

  const stream = marathon.events.createEventSource({ eventType: ["deployment_success", "status_update_event"] });
  let opened = false;
  stream.on("open", () => (opened = true));
  stream.on("error", (error) => console.log("event stream error " + JSON.stringify(error)));
  for (const type of ["deployment_success", "status_update_event", "api_post_event"]) {
    stream.addEventListener(type, (event) => events.push({ type, data: JSON.parse(event.data) }));
  }
  await waitFor("the event stream to open", () => opened);

  const created = await marathon.apps.create({
    id: APP,
    cmd: "sleep 300",
    cpus: 0.1,
    mem: 32,
    instances: 1,
    labels: { client: "marathon-node" },
  });
  check(created.id === APP && created.deployments.length === 1, "create answered " + JSON.stringify(created));
  let app = await settled(1);
  check(app.labels.client === "marathon-node", "labels lost: " + JSON.stringify(app.labels));
  console.log("created " + app.id + " running " + app.tasksRunning);

  await waitFor("status_update_event TASK_RUNNING for the app", () =>
    events.some((e) => e.type === "status_update_event" && e.data.appId === APP && e.data.taskStatus === "TASK_RUNNING"));
  await waitFor("deployment_success", () =>
    events.some((e) => e.type === "deployment_success" && e.data.id === created.deployments[0].id));
  check(!events.some((e) => e.type === "api_post_event"), "the stream sent an event type it was not asked for");

  const listed = await marathon.apps.getList({ embed: "apps.tasks" });
  check(listed.apps.some((a) => a.id === APP), "the app list lacks the app");

  const scaled = await marathon.apps.update(APP, { instances: 3 });
  check(typeof scaled.deploymentId === "string" && scaled.version, "update answered " + JSON.stringify(scaled));
  app = await settled(3);
  console.log("scaled to " + app.tasksRunning);

  const { versions } = await marathon.apps.getVersions(APP);
  check(versions.length >= 2, "expected two versions, got " + JSON.stringify(versions));
  const first = await marathon.apps.getVersion(APP, versions[versions.length - 1]);
  check(first.instances === 1, "the first version should have 1 instance: " + JSON.stringify(first));

  const { tasks } = await marathon.apps.getTasks(APP);
  check(tasks.length === 3 && tasks.every((t) => t.appId === APP && t.state === "TASK_RUNNING"), "tasks: " + JSON.stringify(tasks));
  const all = await marathon.tasks.getList();
  check(tasks.every((t) => all.tasks.some((u) => u.id === t.id)), "/v2/tasks lacks the app's tasks");

  const victim = tasks[0].id;
  const killed = await marathon.apps.killTask(APP, victim, false);
  check(killed.task && killed.task.id === victim, "killTask answered " + JSON.stringify(killed));
  await waitFor("the killed task replaced", async () => {
    const now = (await marathon.apps.getTasks(APP)).tasks;
    return now.length === 3 && !now.some((t) => t.id === victim) && now.every((t) => t.state === "TASK_RUNNING");
  });
  console.log("replaced " + victim);

  const queue = await marathon.queue.get();
  check(Array.isArray(queue.queue), "queue answered " + JSON.stringify(queue));

  const before = new Set((await marathon.apps.getTasks(APP)).tasks.map((t) => t.id));
  const restarted = await marathon.apps.restart(APP);
  check(typeof restarted.deploymentId === "string", "restart answered " + JSON.stringify(restarted));
  await waitFor("every task restarted", async () => {
    const now = (await marathon.apps.getTasks(APP)).tasks;
    return now.length === 3 && now.every((t) => !before.has(t.id) && t.state === "TASK_RUNNING");
  });
  console.log("restarted");

  // Marathon's errors: an invalid definition is a 422 with the offending path, a duplicate a 409.
  const invalid = await rejection(marathon.apps.create({ id: "/compat/Bad_Id", cmd: "true" }));
  check(invalid.statusCode === 422, "an invalid id should be a 422, got " + invalid.statusCode);
  const duplicate = await rejection(marathon.apps.create({ id: APP, cmd: "sleep 300", cpus: 0.1, mem: 32 }));
  check(duplicate.statusCode === 409, "a duplicate app should be a 409, got " + duplicate.statusCode);

  const destroyed = await marathon.apps.destroy(APP);
  check(typeof destroyed.deploymentId === "string", "destroy answered " + JSON.stringify(destroyed));
  await waitFor("the app gone", async () => !(await marathon.apps.getList()).apps.some((a) => a.id === APP));
  const missing = await rejection(marathon.apps.getOne(APP));
  check(missing.statusCode === 404 && /does not exist/.test(missing.error.message), "a removed app should be a 404 with a message, got " + missing.statusCode + " " + JSON.stringify(missing.error));
  stream.close();
  console.log("OK");
  process.exit(0);
}

main().catch((error) => fail(error && error.stack ? error.stack : String(error)));
