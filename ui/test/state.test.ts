import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTree, countsText, flattenTree, parentOf, subtree, type Leaf } from '../src/tree';
import { applyMasterEvent, applyServiceEvent, applyServiceEvents, COMPLETED_MAX, resourcesV0, SseParser, withRemovedAgents, type Services } from '../src/events';
import { forbiddenText } from '../src/logic';

const leaf = (id: string, status: Leaf['status'], instances = 1, running = 1): Leaf =>
  ({ kind: 'app', id, status, item: { id, instances, tasksRunning: running } });

test('the tree groups by id, counts every level, and collapses', () => {
  assert.equal(parentOf('/a/b/c'), '/a/b');
  assert.equal(parentOf('/c'), '/');
  const root = buildTree([
    leaf('/prod/web', 'running', 2, 2), leaf('/prod/db/pg', 'deploying', 1, 0), leaf('/solo', 'suspended', 0, 0),
    { kind: 'pod', id: '/prod/cache', status: 'waiting', item: { id: '/prod/cache', spec: { scaling: { instances: 2 } }, instances: [{ status: 'STABLE' }] } },
  ]);
  assert.deepEqual(flattenTree(root, new Set()).map((r) => `${r.depth}:${r.kind}:${r.id}`),
    ['0:group:/prod', '1:group:/prod/db', '2:app:/prod/db/pg', '1:pod:/prod/cache', '1:app:/prod/web', '0:app:/solo']);
  const prod = subtree(root, '/prod')!;
  assert.equal(prod.counts.apps, 2);
  assert.equal(prod.counts.pods, 1);
  assert.equal(prod.counts.up, 3);
  assert.equal(prod.counts.wanted, 5);
  assert.equal(prod.counts.running, 1, 'one app is running');
  assert.equal(countsText(prod.counts), '2 apps, 1 pod · 3/5 instances running · 1 deploying · 1 waiting');
  assert.equal(root.counts.suspended, 1);
  // Collapsed: the group's row stays (with its counts), its contents go.
  const rows = flattenTree(root, new Set(['/prod']));
  assert.deepEqual(rows.map((r) => r.id), ['/prod', '/solo']);
  assert.equal(rows[0].kind === 'group' && rows[0].expanded, false);
  assert.equal(subtree(root, '/nope'), undefined);
  assert.deepEqual(flattenTree(buildTree([leaf('/a10', 'running'), leaf('/a9', 'running')]), new Set()).map((r) => r.id), ['/a9', '/a10'],
    'numbers in ids sort by value');
});

const base = (): Services => ({
  apps: [{ id: '/web', instances: 1, tasks: [], tasksRunning: 0, deployments: [] }, { id: '/other', instances: 1, tasks: [] }],
  pods: [{ id: '/pod', spec: { id: '/pod', scaling: { instances: 1 } }, instances: [] }],
  deployments: [], queue: [{ app: { id: '/web' } }], info: {},
});

const status = (taskStatus: string, extra: object = {}) => ({
  taskId: 'web.1', appId: '/web', taskStatus, host: 'h', slaveId: 'S0', ports: [31000], timestamp: 't', version: 'v', ...extra,
});

test('status updates add, update and remove an app\'s tasks in place', () => {
  const s0 = base();
  let r = applyServiceEvent(s0, 'status_update_event', status('TASK_STARTING'));
  assert.deepEqual(r.refetch, { queue: true });
  assert.equal(r.state.apps[0].tasks.length, 1);
  assert.equal(r.state.apps[0].tasksStaged, 1);
  assert.equal(r.state.apps[1], s0.apps[1], 'other apps keep their identity');
  assert.equal(r.state.pods, s0.pods);
  r = applyServiceEvent(r.state, 'status_update_event', status('TASK_RUNNING'));
  assert.equal(r.state.apps[0].tasksRunning, 1);
  assert.equal(r.state.apps[0].tasks[0].state, 'TASK_RUNNING');
  r = applyServiceEvent(r.state, 'status_update_event', status('TASK_FAILED', { message: 'boom' }));
  assert.equal(r.state.apps[0].tasks.length, 0);
  assert.equal(r.state.apps[0].tasksRunning, 0);
  assert.equal(r.state.apps[0].lastTaskFailure.message, 'boom');
  // An app the page does not know: only a reload can show it.
  assert.deepEqual(applyServiceEvent(s0, 'status_update_event', status('TASK_RUNNING', { appId: '/new' })).refetch, { all: true });
});

test('deployments are tracked from their events, with the target definitions', () => {
  const plan = {
    id: 'd1', version: 'v2',
    steps: [{ actions: [{ action: 'StartApplication', app: '/g/new' }] }, { actions: [{ action: 'ScaleApplication', app: '/web' }] }],
    target: { id: '/', apps: [{ id: '/web', instances: 3 }], groups: [{ id: '/g', apps: [{ id: '/g/new', instances: 1 }], groups: [] }] },
  };
  let r = applyServiceEvent(base(), 'deployment_info', { plan, currentStep: { actions: plan.steps[1].actions } });
  const d = r.state.deployments[0];
  assert.deepEqual([d.id, d.currentStep, d.totalSteps, d.affectedApps], ['d1', 2, 2, ['/g/new', '/web']]);
  const web = r.state.apps.find((a) => a.id === '/web');
  assert.equal(web.instances, 3, 'the target definition');
  assert.deepEqual(web.deployments, [{ id: 'd1' }]);
  assert.ok(r.state.apps.some((a) => a.id === '/g/new' && a.tasksRunning === 0), 'a new app appears');
  r = applyServiceEvent(r.state, 'deployment_success', { id: 'd1', plan });
  assert.equal(r.state.deployments.length, 0);
  assert.deepEqual(r.state.apps.find((a) => a.id === '/web').deployments, []);
  assert.deepEqual(applyServiceEvent(r.state, 'deployment_failed', { id: 'd1', plan }).refetch, { all: true });
});

test('api posts, terminations, pod instances, health and unknown events', () => {
  let r = applyServiceEvent(base(), 'api_post_event', { appDefinition: { id: '/web', instances: 2 } });
  assert.equal(r.state.apps[0].instances, 2);
  assert.deepEqual(r.state.apps[0].tasks, [], 'status fields kept');
  r = applyServiceEvent(r.state, 'app_terminated_event', { appId: '/web' });
  assert.deepEqual(r.state.apps.map((a) => a.id), ['/other']);
  assert.equal(r.state.queue.length, 0);
  r = applyServiceEvent(base(), 'instance_changed_event', { instanceId: 'pod.i1', runSpecId: '/pod', condition: 'Running', host: 'h' });
  assert.deepEqual(r.state.pods[0].instances.map((i: any) => [i.id, i.status, i.agentHostname]), [['pod.i1', 'STABLE', 'h']]);
  r = applyServiceEvent(r.state, 'status_update_event', { appId: '/pod', taskId: 'pod.i1.c1.1', taskStatus: 'TASK_RUNNING' });
  assert.deepEqual(r.state.pods[0].instances[0].containers.map((c: any) => [c.name, c.status]), [['c1', 'TASK_RUNNING']]);
  assert.deepEqual(applyServiceEvent(r.state, 'pod_created_event', { uri: '/v2/pods' }), { state: r.state, refetch: {} });
  assert.deepEqual(applyServiceEvent(r.state, 'pod_deleted_event', { uri: '/v2/pods/pod?force=true' }).state.pods, []);
  r = applyServiceEvent(r.state, 'instance_changed_event', { instanceId: 'pod.i1', runSpecId: '/pod', condition: 'Killed' });
  assert.equal(r.state.pods[0].instances.length, 0);
  assert.deepEqual(applyServiceEvent(base(), 'health_status_changed_event', { appId: '/web', alive: false }).refetch, { apps: ['/web'] });
  const same = base();
  assert.equal(applyServiceEvent(same, 'group_change_success', { groupId: '/' }).state, same);
  assert.deepEqual(applyServiceEvent(same, 'some_new_event', {}).refetch, { all: true });
  const batch = applyServiceEvents(same, [
    { type: 'status_update_event', data: status('TASK_RUNNING') },
    { type: 'health_status_changed_event', data: { appId: '/other' } },
  ]);
  assert.deepEqual(batch.refetch, { queue: true, apps: ['/other'] });
});

const master = () => ({
  slaves: [{ id: 'S0', active: true, used_resources: { cpus: 0, mem: 0, disk: 0, gpus: 0 } }],
  frameworks: [{ id: 'F0', tasks: [], completed_tasks: [], used_resources: { cpus: 0, mem: 0, disk: 0, gpus: 0 } }],
  activated_slaves: 1,
});
const scalar = (name: string, value: number) => ({ name, type: 'SCALAR', scalar: { value } });
const added = {
  type: 'TASK_ADDED',
  task_added: { task: { name: 'a', task_id: { value: 't1' }, framework_id: { value: 'F0' }, agent_id: { value: 'S0' }, state: 'TASK_STAGING',
    resources: [scalar('cpus', 0.5), scalar('mem', 64), { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31000, end: 31001 }] } }] } },
};
const updated = (state: string) => ({
  type: 'TASK_UPDATED',
  task_updated: { framework_id: { value: 'F0' }, state, status: { task_id: { value: 't1' }, state, source: 'SOURCE_EXECUTOR', timestamp: 2 } },
});

test('operator task events move tasks and their resources', () => {
  assert.deepEqual(resourcesV0(added.task_added.task.resources), { cpus: 0.5, mem: 64, ports: '[31000-31001]' });
  const s0 = master();
  let r = applyMasterEvent(s0, added);
  assert.equal(r.reload, false);
  assert.deepEqual(r.state.frameworks[0].tasks.map((t: any) => [t.id, t.state, t.slave_id]), [['t1', 'TASK_STAGING', 'S0']]);
  assert.equal(r.state.slaves[0].used_resources.cpus, 0.5);
  assert.equal(r.state.frameworks[0].used_resources.mem, 64);
  r = applyMasterEvent(r.state, updated('TASK_RUNNING'));
  assert.equal(r.state.frameworks[0].tasks[0].state, 'TASK_RUNNING');
  assert.deepEqual(r.state.frameworks[0].tasks[0].statuses, [{ state: 'TASK_RUNNING', timestamp: 2, source: 'SOURCE_EXECUTOR' }]);
  r = applyMasterEvent(r.state, updated('TASK_KILLED'));
  assert.equal(r.state.frameworks[0].tasks.length, 0);
  assert.deepEqual(r.state.frameworks[0].completed_tasks.map((t: any) => t.state), ['TASK_KILLED']);
  assert.equal(r.state.slaves[0].used_resources.cpus, 0);
  assert.equal(s0.frameworks[0].tasks.length, 0, 'the old state is untouched');
  // A task of a framework the page has not seen: reload.
  assert.equal(applyMasterEvent(master(), { type: 'TASK_UPDATED', task_updated: { framework_id: { value: 'F9' }, status: { task_id: { value: 'x' } } } }).reload, true);
  assert.equal(applyMasterEvent(master(), { type: 'HEARTBEAT' }).reload, false);
  assert.equal(applyMasterEvent(master(), { type: 'SOMETHING_NEW' }).reload, true);
});

test('completed tasks stay bounded', () => {
  let s: any = master();
  s.frameworks[0].completed_tasks = Array.from({ length: COMPLETED_MAX }, (_, i) => ({ id: `old${i}` }));
  s = applyMasterEvent(s, added).state;
  s = applyMasterEvent(s, updated('TASK_FINISHED')).state;
  assert.equal(s.frameworks[0].completed_tasks.length, COMPLETED_MAX);
  assert.equal(s.frameworks[0].completed_tasks.at(-1).id, 't1');
});

test('operator agent and framework events', () => {
  const agent = { agent_info: { id: { value: 'S1' }, hostname: 'h1', port: 5051, resources: [scalar('cpus', 4)] }, active: true, pid: 'slave(1)@h1:5051' };
  let r = applyMasterEvent(master(), { type: 'AGENT_ADDED', agent_added: { agent } });
  assert.deepEqual(r.state.slaves.map((a: any) => a.id), ['S0', 'S1']);
  assert.equal(r.state.slaves[1].resources.cpus, 4);
  assert.equal(r.state.activated_slaves, 2);
  r = applyMasterEvent(r.state, { type: 'AGENT_REMOVED', agent_removed: { agent_id: { value: 'S0' } } });
  assert.deepEqual(r.state.slaves.map((a: any) => a.id), ['S1']);
  assert.equal(r.state.activated_slaves, 1);
  assert.equal(r.agents, true, 'a removal re-reads the unreachable and gone lists');
  assert.equal(r.reload, false);
  assert.notEqual(applyMasterEvent(master(), { type: 'AGENT_ADDED', agent_added: { agent } }).agents, true);
  const info = { id: { value: 'F1' }, name: 'marathon', role: 'ops', user: 'root' };
  r = applyMasterEvent(r.state, { type: 'FRAMEWORK_ADDED', framework_added: { framework: { framework_info: info, active: true } } });
  assert.deepEqual(r.state.frameworks.map((f: any) => [f.id, f.name, f.tasks.length]), [['F0', undefined, 0], ['F1', 'marathon', 0]]);
  r = applyMasterEvent(r.state, { type: 'FRAMEWORK_UPDATED', framework_updated: { framework: { framework_info: { ...info, name: 'm2' }, active: false } } });
  assert.equal(r.state.frameworks[1].name, 'm2');
  assert.equal(r.state.frameworks[1].active, false);
  r = applyMasterEvent(r.state, { type: 'FRAMEWORK_REMOVED', framework_removed: { framework_info: info } });
  assert.deepEqual(r.state.frameworks.map((f: any) => f.id), ['F0']);
  assert.deepEqual(r.state.completed_frameworks.map((f: any) => f.id), ['F1']);
});

test('server-sent events split across chunks, CRLF framing, comments ignored', () => {
  const p = new SseParser();
  const out = [
    ...p.push('id: 1\r\nevent: status_update_event\r\ndata: {"a":'),
    ...p.push('1}\r'),
    ...p.push('\n\r\n: keep-alive\n\ndata: x\ndata: y\n\n'),
  ];
  assert.deepEqual(out, [{ type: 'status_update_event', data: '{"a":1}' }, { type: 'message', data: 'x\ny' }]);
  assert.throws(() => new SseParser(10).push('data: 0123456789abc'), /over the size limit/);
});

test('a 403 says who was refused and that ACLs decided it', () => {
  assert.equal(forbiddenText('ops', 'http://m:5050/master/teardown?x=1', ''),
    "Forbidden: the daemon's ACLs do not let 'ops' do this (/master/teardown)");
  assert.match(forbiddenText(undefined, '/v2/apps', '{"message":"Not Authorized to perform this action!"}'),
    /^Forbidden: .*an anonymous user .*\(\/v2\/apps\): Not Authorized/);
});

test('unreachable and gone agents: read from /master/slaves, and a returning agent leaves the unreachable list', () => {
  let s = withRemovedAgents(master(), {
    slaves: [],
    unreachable_agents: [{ id: 'S5', hostname: 'h5', port: 5051, unreachable_time: 1.5 }],
    gone_agents: [{ id: 'S6', gone_time: 2 }],
  });
  assert.equal(s.unreachable_slaves, 1);
  assert.deepEqual(s.unreachable_agents.map((a: any) => a.id), ['S5']);
  assert.deepEqual(s.gone_agents.map((a: any) => a.id), ['S6']);
  const agent = { agent_info: { id: { value: 'S5' }, hostname: 'h5', port: 5051, resources: [scalar('cpus', 1)] }, active: true };
  s = applyMasterEvent(s, { type: 'AGENT_ADDED', agent_added: { agent } }).state;
  assert.deepEqual(s.unreachable_agents, []);
  assert.equal(s.unreachable_slaves, 0);
  assert.ok(s.slaves.some((a: any) => a.id === 'S5'));
  assert.deepEqual(s.gone_agents.map((a: any) => a.id), ['S6'], 'gone agents stay gone');
  // A /master/slaves without the lists (an older master) empties them rather than failing.
  assert.deepEqual(withRemovedAgents(s, {}).gone_agents, []);
});
