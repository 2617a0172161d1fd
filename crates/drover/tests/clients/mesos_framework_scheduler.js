// A real Mesos framework written with mesos-framework 0.5.3 (npm) against Drover. The library
// subscribes over the Scheduler HTTP API and reads the RecordIO stream one HTTP chunk at a time
// (one record per chunk, as Mesos writes it), launches its configured tasks from offers,
// acknowledges their updates and relaunches the ones that end in a restart state.
//
// Usage: node mesos_framework_scheduler.js MASTER_HOST MASTER_PORT. Prints what it observes and
// "OK" when every expectation held; exits 1 with the reason otherwise.
"use strict";

const http = require("http");
const { Scheduler, Mesos } = require("mesos-framework");
const mesos = Mesos.getMesos();

const [host, port] = process.argv.slice(2);
const DEADLINE_MS = 90000;

const errors = [];
const updates = []; // { taskId, state, reason, source, uuid }
let subscribed = null;
let tornDown = false; // after TEARDOWN the master ends the stream, which the library reports

function fail(why) {
  console.log("FAIL: " + why);
  console.log("updates: " + JSON.stringify(updates));
  process.exit(1);
}

function masterState() {
  return new Promise((resolve, reject) => {
    http.get({ host, port, path: "/master/state" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => {
        try {
          resolve(JSON.parse(body));
        } catch (e) {
          reject(e);
        }
      });
    }).on("error", reject);
  });
}

async function waitFor(what, predicate) {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    if (errors.length > 0) fail("the library reported an error: " + JSON.stringify(errors));
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) fail("timed out waiting for " + what);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const scheduler = new Scheduler({
  masterUrl: host,
  port: port,
  frameworkName: "mesos-framework-compat",
  frameworkFailoverTimeout: 60,
  // The library's default (10 s without a byte on the stream means the master is gone) is
  // shorter than Mesos' 15 s heartbeat interval; deployments raise it, as here.
  masterConnectionTimeout: 60,
  // The library also logs to a file: into the working directory (the test's temp dir).
  logging: { level: "warn", path: process.cwd(), fileName: "mesos-framework.log" },
  // Killed tasks are relaunched too, so that a kill shows the whole relaunch path.
  restartStates: ["TASK_FAILED", "TASK_LOST", "TASK_ERROR", "TASK_KILLED"],
  tasks: {
    sleeper: {
      priority: 1,
      instances: 2,
      commandInfo: new mesos.CommandInfo(null, null, true, "sleep 300", null, null),
      resources: { cpus: 0.1, mem: 32, ports: 1, disk: 0 },
    },
    greeter: {
      priority: 2,
      instances: 1,
      commandInfo: new mesos.CommandInfo(null, null, true, "echo hello-from-mesos-framework", null, null),
      resources: { cpus: 0.1, mem: 32, ports: 0, disk: 0 },
    },
  },
});

scheduler.on("error", (error) => {
  const message = error && error.message ? error.message : String(error);
  console.log("error " + message);
  if (!tornDown) errors.push(message);
});
scheduler.on("subscribed", (info) => {
  console.log("subscribed " + info.frameworkId);
  subscribed = info;
});
scheduler.on("update", (update) => {
  const status = update.status;
  const entry = {
    taskId: status.task_id.value,
    agentId: status.agent_id && status.agent_id.value,
    state: status.state,
    reason: status.reason || null,
    source: status.source || null,
    uuid: Boolean(status.uuid),
  };
  updates.push(entry);
  console.log("update " + JSON.stringify(entry));
});

// The library names its task ids `<framework name>.<task name>-<serial>.<uuid>`.
function isOf(taskId, task) {
  return taskId.includes("." + task + "-");
}

function runningIds(prefix) {
  const ended = new Set(updates.filter((u) => !["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"].includes(u.state)).map((u) => u.taskId));
  return [...new Set(updates.filter((u) => u.state === "TASK_RUNNING" && isOf(u.taskId, prefix) && !ended.has(u.taskId)).map((u) => u.taskId))];
}

async function main() {
  scheduler.on("ready", () => scheduler.subscribe());
  await waitFor("SUBSCRIBED", () => subscribed);
  const frameworkId = subscribed.frameworkId;

  await waitFor("two sleepers running", () => runningIds("sleeper").length === 2);
  await waitFor("the greeter finished", () => updates.some((u) => isOf(u.taskId, "greeter") && u.state === "TASK_FINISHED"));
  const running = updates.find((u) => u.state === "TASK_RUNNING");
  if (running.source !== "SOURCE_EXECUTOR" || !running.uuid) fail("RUNNING should come from the executor with a uuid");

  // The master agrees: two of this framework's tasks are running, each with one port.
  await waitFor("/master/state to show the sleepers", async () => {
    const state = await masterState();
    const framework = state.frameworks.find((f) => f.id === frameworkId);
    if (!framework || framework.name !== "mesos-framework-compat") return false;
    const tasks = framework.tasks.filter((t) => t.state === "TASK_RUNNING" && t.name.startsWith("sleeper"));
    return tasks.length === 2 && tasks.every((t) => t.resources.ports && t.resources.ports.length > 0);
  });

  // Kill one sleeper: TASK_KILLED, then the library launches a replacement.
  const victim = runningIds("sleeper")[0];
  const victimAgent = updates.find((u) => u.taskId === victim).agentId;
  scheduler.kill(victim, victimAgent);
  await waitFor("the victim killed", () => updates.some((u) => u.taskId === victim && u.state === "TASK_KILLED"));
  await waitFor("a replacement running", () => runningIds("sleeper").length === 2 && !runningIds("sleeper").includes(victim));
  console.log("replaced " + victim);

  // Explicit reconciliation: the master answers with the task's latest state.
  const survivor = runningIds("sleeper")[0];
  scheduler.reconcile(survivor, updates.find((u) => u.taskId === survivor).agentId);
  await waitFor("the reconciliation answer", () =>
    updates.some((u) => u.taskId === survivor && u.state === "TASK_RUNNING" && u.reason === "REASON_RECONCILIATION" && u.source === "SOURCE_MASTER" && !u.uuid));

  // TEARDOWN ends the framework and its tasks.
  tornDown = true;
  scheduler.teardown();
  await waitFor("the framework removed", async () => {
    const state = await masterState();
    return !state.frameworks.some((f) => f.id === frameworkId) &&
      (state.completed_frameworks || []).some((f) => f.id === frameworkId);
  });
  console.log("OK");
  process.exit(0);
}

main().catch((error) => fail(error && error.stack ? error.stack : String(error)));
