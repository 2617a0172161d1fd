//! Live updates applied in place: Marathon's `/v2/events` (SSE) onto the services state and
//! the operator API's SUBSCRIBE events onto the master's `/master/state`. Each reducer takes
//! a state and an event and returns the next state plus what it could not derive from the
//! event, so the caller refetches only that (the queue, one app) or, for an event it cannot
//! apply at all, everything. Pure and DOM-free: `node --test` feeds events in and checks the
//! state out. Unchanged parts keep their identity, so the views re-render only what changed.

export type Services = { apps: any[]; pods: any[]; deployments: any[]; queue: any[]; info: any };

/** What to refetch after an event: `all` (the event could not be applied), the `queue`
 * (Marathon's events never carry it), or single apps by id. */
export type Refetch = { all?: boolean; queue?: boolean; apps?: string[] };

export const TERMINAL_TASK_STATES = new Set(['TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_LOST', 'TASK_ERROR',
  'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR']);
const TERMINAL_CONDITIONS = new Set(['Killed', 'Failed', 'Finished', 'Error', 'Gone', 'Dropped', 'Unknown']);
/** Marathon's pod instance status for an instance condition. */
const POD_INSTANCE_STATUS: Record<string, string> = {
  Scheduled: 'PENDING', Provisioned: 'PENDING', Staging: 'STAGING', Starting: 'STAGING', Running: 'STABLE',
  Killing: 'TERMINAL', Unreachable: 'DEGRADED', UnreachableInactive: 'DEGRADED',
};

/** Events that say nothing about the state shown. */
const IGNORED = new Set(['event_stream_attached', 'event_stream_detached', 'group_change_success',
  'unknown_instance_terminated_event', 'failed_health_check_event', 'unhealthy_instance_kill_event']);

function replaceAt<T>(list: T[], index: number, value: T | undefined): T[] {
  const out = list.slice();
  if (value === undefined) out.splice(index, 1);
  else out[index] = value;
  return out;
}

/** An app's counters recomputed from its task list (what Marathon itself derives them from). */
function withCounts(app: any, tasks: any[]): any {
  const healthy = tasks.filter((t) => (t.healthCheckResults ?? []).length > 0 && t.healthCheckResults.every((h: any) => h.alive)).length;
  const unhealthy = tasks.filter((t) => (t.healthCheckResults ?? []).some((h: any) => !h.alive)).length;
  return {
    ...app, tasks,
    tasksRunning: tasks.filter((t) => t.state === 'TASK_RUNNING').length,
    tasksStaged: tasks.filter((t) => t.state === 'TASK_STAGING' || t.state === 'TASK_STARTING').length,
    tasksHealthy: healthy, tasksUnhealthy: unhealthy,
  };
}

/** The app and pod definitions of a deployment plan's target group tree. */
function targetSpecs(group: any, apps: any[] = [], pods: any[] = []): { apps: any[]; pods: any[] } {
  for (const a of group?.apps ?? []) apps.push(a);
  for (const p of group?.pods ?? []) pods.push(p);
  for (const g of group?.groups ?? []) targetSpecs(g, apps, pods);
  return { apps, pods };
}

/** `/v2/deployments`' shape of a plan in a deployment event. */
function deploymentOf(plan: any, currentActions: any[] | undefined): any {
  const steps = plan.steps ?? [];
  const key = JSON.stringify(currentActions ?? []);
  const at = steps.findIndex((s: any) => JSON.stringify(s.actions ?? []) === key);
  const affected = new Set<string>();
  for (const s of steps) for (const a of s.actions ?? []) if (a.app ?? a.pod) affected.add(a.app ?? a.pod);
  return {
    id: plan.id, version: plan.version, affectedApps: [...affected], steps,
    currentActions: currentActions ?? [], currentStep: at < 0 ? 0 : at + 1, totalSteps: steps.length,
  };
}

/** Marks (or unmarks) the apps and pods a deployment affects. */
function markDeployment(s: Services, deployment: { id: string; affectedApps: string[] }, on: boolean): Services {
  const affected = new Set(deployment.affectedApps);
  const mark = (list: any[]) => {
    let changed = false;
    const out = list.map((x) => {
      const id = x.id;
      if (!affected.has(id)) return x;
      const rest = (x.deployments ?? []).filter((d: any) => d.id !== deployment.id);
      changed = true;
      return { ...x, deployments: on ? [...rest, { id: deployment.id }] : rest };
    });
    return changed ? out : list;
  };
  return { ...s, apps: mark(s.apps), pods: mark(s.pods) };
}

/** Applies one `/v2/events` event. */
export function applyServiceEvent(s: Services, type: string, data: any): { state: Services; refetch: Refetch } {
  const none: Refetch = {};
  if (IGNORED.has(type)) return { state: s, refetch: none };
  switch (type) {
    case 'status_update_event': {
      const at = s.apps.findIndex((a) => a.id === data.appId);
      if (at < 0) {
        const pi = s.pods.findIndex((p) => p.id === data.appId);
        if (pi < 0) return { state: s, refetch: { all: true } };
        return { state: { ...s, pods: replaceAt(s.pods, pi, podContainerStatus(s.pods[pi], data)) }, refetch: { queue: true } };
      }
      const app = s.apps[at];
      const tasks: any[] = app.tasks ?? [];
      const ti = tasks.findIndex((t) => t.id === data.taskId);
      let next = tasks;
      if (TERMINAL_TASK_STATES.has(data.taskStatus)) {
        if (ti >= 0) next = replaceAt(tasks, ti, undefined);
      } else {
        const old = ti >= 0 ? tasks[ti] : { id: data.taskId, appId: data.appId, stagedAt: data.timestamp, healthCheckResults: [] };
        const task = {
          ...old, state: data.taskStatus, host: data.host, slaveId: data.slaveId, ports: data.ports ?? old.ports,
          ipAddresses: data.ipAddresses ?? old.ipAddresses, version: data.version ?? old.version,
          ...(data.taskStatus === 'TASK_RUNNING' && !old.startedAt ? { startedAt: data.timestamp } : {}),
        };
        next = ti >= 0 ? replaceAt(tasks, ti, task) : [...tasks, task];
      }
      let updated = withCounts(app, next);
      if (data.taskStatus === 'TASK_FAILED' || data.taskStatus === 'TASK_ERROR') {
        updated = { ...updated, lastTaskFailure: {
          appId: data.appId, host: data.host, message: data.message ?? '', state: data.taskStatus,
          taskId: data.taskId, timestamp: data.timestamp, version: data.version, slaveId: data.slaveId,
        } };
      }
      return { state: { ...s, apps: replaceAt(s.apps, at, updated) }, refetch: { queue: true } };
    }
    case 'instance_changed_event': {
      const pi = s.pods.findIndex((p) => p.id === data.runSpecId);
      if (pi < 0) {
        // An app's instance: its status updates carry the change.
        return { state: s, refetch: s.apps.some((a) => a.id === data.runSpecId) ? none : { all: true } };
      }
      const pod = s.pods[pi];
      const instances: any[] = pod.instances ?? [];
      const ii = instances.findIndex((i) => i.id === data.instanceId);
      let next = instances;
      if (TERMINAL_CONDITIONS.has(data.condition)) {
        if (ii >= 0) next = replaceAt(instances, ii, undefined);
      } else {
        const old = ii >= 0 ? instances[ii] : { id: data.instanceId, containers: [] };
        const inst = { ...old, status: POD_INSTANCE_STATUS[data.condition] ?? old.status ?? 'PENDING',
          agentHostname: data.host ?? old.agentHostname, agentId: data.agentId ?? old.agentId, statusSince: data.timestamp };
        next = ii >= 0 ? replaceAt(instances, ii, inst) : [...instances, inst];
      }
      return { state: { ...s, pods: replaceAt(s.pods, pi, { ...pod, instances: next }) }, refetch: { queue: true } };
    }
    case 'health_status_changed_event':
    case 'instance_health_changed_event': {
      // The event names an instance, the app lists tasks: refetch that one app.
      const id = data.appId ?? data.runSpecId;
      return { state: s, refetch: s.apps.some((a) => a.id === id) ? { apps: [id] } : none };
    }
    case 'api_post_event': {
      const def = data.appDefinition;
      if (!def?.id) return { state: s, refetch: { all: true } };
      return { state: upsertApps(s, [def]), refetch: none };
    }
    case 'deployment_info':
    case 'deployment_step_success': {
      if (!data.plan?.id) return { state: s, refetch: { all: true } };
      const deployment = deploymentOf(data.plan, data.currentStep?.actions);
      const di = s.deployments.findIndex((d) => d.id === deployment.id);
      const deployments = di >= 0 ? replaceAt(s.deployments, di, deployment) : [...s.deployments, deployment];
      const target = targetSpecs(data.plan.target);
      let state = upsertApps({ ...s, deployments }, target.apps.filter((a) => deployment.affectedApps.includes(a.id)));
      state = upsertPods(state, target.pods.filter((p) => deployment.affectedApps.includes(p.id)));
      return { state: markDeployment(state, deployment, true), refetch: { queue: true } };
    }
    case 'deployment_success':
    case 'deployment_failed': {
      const id = data.id ?? data.plan?.id;
      const old = s.deployments.find((d) => d.id === id);
      const deployment = old ?? (data.plan ? deploymentOf(data.plan, []) : undefined);
      if (!deployment) return { state: s, refetch: { all: true } };
      const state = { ...s, deployments: s.deployments.filter((d) => d.id !== id) };
      // A failed (or rolled back) deployment leaves definitions the event does not give.
      return { state: markDeployment(state, deployment, false), refetch: type === 'deployment_failed' ? { all: true } : { queue: true } };
    }
    case 'pod_created_event':
    case 'pod_updated_event':
      // They carry only the request's URI; the deployment they start carries the definition.
      return { state: s, refetch: none };
    case 'pod_deleted_event': {
      const id = String(data.uri ?? '').replace(/^\/v2\/pods/, '').split('?')[0].replace(/::.*$/, '');
      if (!id.startsWith('/')) return { state: s, refetch: { all: true } };
      return { state: { ...s, pods: s.pods.filter((p) => p.id !== id), queue: s.queue.filter((q) => q.pod?.id !== id) }, refetch: none };
    }
    case 'app_terminated_event': {
      const id = data.appId;
      return {
        state: { ...s, apps: s.apps.filter((a) => a.id !== id), pods: s.pods.filter((p) => p.id !== id),
          queue: s.queue.filter((q) => (q.app ?? q.pod)?.id !== id) },
        refetch: none,
      };
    }
    default:
      return { state: s, refetch: { all: true } };
  }
}

/** A pod task's status onto its container: the task id is `<instance id>.<container>.<n>`. */
function podContainerStatus(pod: any, data: any): any {
  const instances: any[] = pod.instances ?? [];
  const ii = instances.findIndex((i) => String(data.taskId).startsWith(`${i.id}.`));
  if (ii < 0) return pod;
  const inst = instances[ii];
  const name = String(data.taskId).slice(inst.id.length + 1).split('.')[0];
  const containers: any[] = inst.containers ?? [];
  const ci = containers.findIndex((c) => c.name === name);
  const container = { ...(ci >= 0 ? containers[ci] : { name }), status: data.taskStatus, lastUpdated: data.timestamp };
  const next = ci >= 0 ? replaceAt(containers, ci, container) : [...containers, container];
  return { ...pod, instances: replaceAt(instances, ii, { ...inst, containers: next }) };
}

/** Puts app definitions in, keeping what the definition does not carry (tasks, counters,
 * deployments, the last failure). */
function upsertApps(s: Services, defs: any[]): Services {
  if (defs.length === 0) return s;
  let apps = s.apps;
  for (const def of defs) {
    const at = apps.findIndex((a) => a.id === def.id);
    if (at >= 0) {
      const old = apps[at];
      apps = replaceAt(apps, at, { ...def, tasks: old.tasks, tasksRunning: old.tasksRunning, tasksStaged: old.tasksStaged,
        tasksHealthy: old.tasksHealthy, tasksUnhealthy: old.tasksUnhealthy, deployments: old.deployments, lastTaskFailure: old.lastTaskFailure });
    } else {
      apps = [...apps, { ...def, tasks: [], tasksRunning: 0, tasksStaged: 0, tasksHealthy: 0, tasksUnhealthy: 0, deployments: [] }];
    }
  }
  return { ...s, apps };
}

/** Puts pod definitions in, as `/v2/pods/::status` entries (spec plus instances). */
function upsertPods(s: Services, defs: any[]): Services {
  if (defs.length === 0) return s;
  let pods = s.pods;
  for (const def of defs) {
    const at = pods.findIndex((p) => p.id === def.id);
    pods = at >= 0 ? replaceAt(pods, at, { ...pods[at], spec: def }) : [...pods, { id: def.id, spec: def, instances: [], deployments: [] }];
  }
  return { ...s, pods };
}

/** Applies a batch of events, merging what each asks to refetch. */
export function applyServiceEvents(s: Services, events: { type: string; data: any }[]): { state: Services; refetch: Refetch } {
  let state = s;
  const refetch: Refetch = {};
  const apps = new Set<string>();
  for (const e of events) {
    const r = applyServiceEvent(state, e.type, e.data);
    state = r.state;
    if (r.refetch.all) refetch.all = true;
    if (r.refetch.queue) refetch.queue = true;
    for (const a of r.refetch.apps ?? []) apps.add(a);
  }
  if (apps.size) refetch.apps = [...apps];
  return { state, refetch };
}

// ---------------------------------------------------------------- The master's state

/** A v1 resource list as `/master/state`'s map (`{cpus: 0.5, mem: 64, ports: "[31000-31001]"}`). */
export function resourcesV0(resources: any[] | undefined): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const r of resources ?? []) {
    if (r.type === 'SCALAR' || r.scalar) out[r.name] = Math.round((((out[r.name] as number) ?? 0) + (r.scalar?.value ?? 0)) * 1000) / 1000;
    else if (r.ranges) {
      const ranges = (r.ranges.range ?? []).map((x: any) => `${x.begin}-${x.end}`).join(', ');
      out[r.name] = out[r.name] ? `${String(out[r.name]).slice(0, -1)}, ${ranges}]` : `[${ranges}]`;
    }
  }
  return out;
}

const SCALARS = ['cpus', 'gpus', 'mem', 'disk'];

/** `used` plus (sign 1) or minus (sign -1) a task's scalar resources. */
function addUsed(used: any, resources: any, sign: number): any {
  const out = { ...(used ?? {}) };
  for (const k of SCALARS) {
    const v = typeof resources?.[k] === 'number' ? resources[k] : 0;
    out[k] = Math.max(0, Math.round(((out[k] ?? 0) + sign * v) * 1000) / 1000);
  }
  return out;
}

function updateById(list: any[], id: string, f: (x: any) => any): any[] {
  const at = list.findIndex((x) => x.id === id);
  return at < 0 ? list : replaceAt(list, at, f(list[at]));
}

/** Completed tasks kept per framework (Mesos' `--max_completed_tasks_per_framework`). */
export const COMPLETED_MAX = 1000;

/** Applies one operator event (`{type, task_added: …}`) to `/master/state`; `reload` when it
 * cannot; `agents` when the unreachable and gone agents' lists must be re-read (an
 * AGENT_REMOVED does not say whether the agent became unreachable, was marked gone or left). */
export function applyMasterEvent(state: any, event: any): { state: any; reload: boolean; agents?: boolean } {
  const keep = { state, reload: false };
  const reload = { state, reload: true };
  switch (event.type) {
    case 'HEARTBEAT':
    case 'SUBSCRIBED':
      return keep;
    case 'TASK_ADDED': {
      const t = event.task_added?.task;
      const fid = t?.framework_id?.value;
      if (!t || !(state.frameworks ?? []).some((f: any) => f.id === fid)) return reload;
      const task = {
        id: t.task_id.value, name: t.name, framework_id: fid, executor_id: t.executor_id?.value ?? '',
        slave_id: t.agent_id?.value, state: t.state ?? 'TASK_STAGING', resources: resourcesV0(t.resources), statuses: [],
      };
      return { state: {
        ...state,
        frameworks: updateById(state.frameworks, fid, (f) => ({
          ...f, tasks: [...(f.tasks ?? []).filter((x: any) => x.id !== task.id), task], used_resources: addUsed(f.used_resources, task.resources, 1),
        })),
        slaves: updateById(state.slaves ?? [], task.slave_id, (a) => ({ ...a, used_resources: addUsed(a.used_resources, task.resources, 1) })),
      }, reload: false };
    }
    case 'TASK_UPDATED': {
      const u = event.task_updated;
      const fid = u?.framework_id?.value;
      const id = u?.status?.task_id?.value;
      const f = (state.frameworks ?? []).find((x: any) => x.id === fid);
      if (!f || !id) return reload;
      const newState = u.state ?? u.status.state;
      const status = { state: u.status.state, timestamp: u.status.timestamp, ...(u.status.source ? { source: u.status.source } : {}),
        ...(u.status.reason ? { reason: u.status.reason } : {}), ...(u.status.message ? { message: u.status.message } : {}) };
      const ti = (f.tasks ?? []).findIndex((x: any) => x.id === id);
      if (ti < 0) {
        const ci = (f.completed_tasks ?? []).findIndex((x: any) => x.id === id);
        if (ci < 0) return reload;
        const done = f.completed_tasks[ci];
        return { state: { ...state, frameworks: updateById(state.frameworks, fid, (x) => ({
          ...x, completed_tasks: replaceAt(x.completed_tasks, ci, { ...done, state: newState, statuses: [...(done.statuses ?? []), status] }),
        })) }, reload: false };
      }
      const task = { ...f.tasks[ti], state: newState, statuses: [...(f.tasks[ti].statuses ?? []), status] };
      if (!TERMINAL_TASK_STATES.has(newState)) {
        return { state: { ...state, frameworks: updateById(state.frameworks, fid, (x) => ({ ...x, tasks: replaceAt(x.tasks, ti, task) })) }, reload: false };
      }
      // Terminal: the task moves to the completed ones and frees its resources.
      return { state: {
        ...state,
        frameworks: updateById(state.frameworks, fid, (x) => ({
          ...x, tasks: replaceAt(x.tasks, ti, undefined),
          completed_tasks: [...(x.completed_tasks ?? []), task].slice(-COMPLETED_MAX),
          used_resources: addUsed(x.used_resources, task.resources, -1),
        })),
        slaves: updateById(state.slaves ?? [], task.slave_id, (a) => ({ ...a, used_resources: addUsed(a.used_resources, task.resources, -1) })),
      }, reload: false };
    }
    case 'AGENT_ADDED': {
      const a = event.agent_added?.agent;
      const id = a?.agent_info?.id?.value;
      if (!id) return reload;
      const old = (state.slaves ?? []).find((x: any) => x.id === id);
      const agent = {
        ...(old ?? { used_resources: { cpus: 0, gpus: 0, mem: 0, disk: 0 }, offered_resources: { cpus: 0, gpus: 0, mem: 0, disk: 0 } }),
        id, hostname: a.agent_info.hostname, port: a.agent_info.port, pid: a.pid, active: a.active !== false,
        version: a.version, registered_time: a.registered_time?.nanoseconds ? a.registered_time.nanoseconds / 1e9 : old?.registered_time,
        resources: resourcesV0(a.total_resources ?? a.agent_info.resources),
      };
      const slaves = old ? updateById(state.slaves, id, () => agent) : [...(state.slaves ?? []), agent];
      // An unreachable agent that comes back is admitted again.
      const unreachable = (state.unreachable_agents ?? []).filter((x: any) => x.id !== id);
      return { state: {
        ...state, slaves, activated_slaves: slaves.filter((x: any) => x.active).length,
        unreachable_agents: unreachable, unreachable_slaves: unreachable.length,
      }, reload: false };
    }
    case 'AGENT_REMOVED': {
      const id = event.agent_removed?.agent_id?.value;
      if (!id) return reload;
      const slaves = (state.slaves ?? []).filter((x: any) => x.id !== id);
      return { state: { ...state, slaves, activated_slaves: slaves.filter((x: any) => x.active).length }, reload: false, agents: true };
    }
    case 'FRAMEWORK_ADDED':
    case 'FRAMEWORK_UPDATED': {
      const fw = (event.framework_added ?? event.framework_updated)?.framework;
      const info = fw?.framework_info;
      const id = info?.id?.value;
      if (!id) return reload;
      const fields = { id, name: info.name, user: info.user, role: info.role ?? (info.roles ?? [])[0], hostname: info.hostname,
        webui_url: info.webui_url, principal: info.principal, active: fw.active !== false, connected: fw.connected !== false };
      const exists = (state.frameworks ?? []).some((f: any) => f.id === id);
      const frameworks = exists ? updateById(state.frameworks, id, (f) => ({ ...f, ...fields }))
        : [...(state.frameworks ?? []), { ...fields, tasks: [], completed_tasks: [], used_resources: { cpus: 0, gpus: 0, mem: 0, disk: 0 } }];
      return { state: { ...state, frameworks }, reload: false };
    }
    case 'FRAMEWORK_REMOVED': {
      const id = event.framework_removed?.framework_info?.id?.value;
      const f = (state.frameworks ?? []).find((x: any) => x.id === id);
      if (!f) return reload;
      // Its tasks' resources go back to their agents.
      let slaves = state.slaves ?? [];
      for (const t of f.tasks ?? []) slaves = updateById(slaves, t.slave_id, (a) => ({ ...a, used_resources: addUsed(a.used_resources, t.resources, -1) }));
      return { state: {
        ...state, slaves,
        frameworks: state.frameworks.filter((x: any) => x.id !== id),
        completed_frameworks: [...(state.completed_frameworks ?? []), { ...f, active: false, connected: false, tasks: [] }].slice(-50),
      }, reload: false };
    }
    default:
      return reload;
  }
}

/** Puts the unreachable and gone agents of a fresh `/master/slaves` into `state`. */
export function withRemovedAgents(state: any, slaves: any): any {
  const unreachable = slaves?.unreachable_agents ?? [];
  return { ...state, unreachable_agents: unreachable, unreachable_slaves: unreachable.length, gone_agents: slaves?.gone_agents ?? [] };
}

// ---------------------------------------------------------------- Server-sent events

/** Splits a `text/event-stream` into events as they complete (fetch streaming stands in for
 * EventSource, which cannot send an `Authorization` header). An event longer than `max`
 * characters is an error: the caller drops the stream and reconnects. */
export class SseParser {
  private buf = '';
  private type = '';
  private data: string[] = [];
  constructor(private max = 16 * 1024 * 1024) {}

  push(text: string): { type: string; data: string }[] {
    this.buf += text;
    const out: { type: string; data: string }[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      // A lone CR at the end may be the first half of a CRLF: wait for the next chunk.
      if (!m || (m[0] === '\r' && m.index === this.buf.length - 1)) break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      if (line === '') {
        if (this.data.length) out.push({ type: this.type || 'message', data: this.data.join('\n') });
        this.type = '';
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') this.type = value;
      else if (field === 'data') this.data.push(value);
    }
    if (this.buf.length + this.data.reduce((n, d) => n + d.length, 0) > this.max) throw new Error('an event over the size limit');
    return out;
  }
}
