import { test } from 'node:test';
import assert from 'node:assert/strict';
import reasons from 'virtual:reasons';
import {
  agentAddress, appDefinition, appStatus, appendChunk, countByState, createPath, errorText, scaledPod, formatMem, href, masterBase, parseEditor,
  parseRoute, reasonTooltip, RecordIo, sandboxOf, search, visibleRange, withStaging,
} from '../src/logic';

test('hash routes round-trip, ids with slashes included', () => {
  assert.deepEqual(parseRoute(href('app', '/prod/web'), true), { page: 'app', id: '/prod/web' });
  assert.deepEqual(parseRoute('', true), { page: 'apps' });
  assert.deepEqual(parseRoute('#/', false), { page: 'overview' });
  assert.deepEqual(parseRoute('#/queue', true), { page: 'queue' });
});

test('app status follows deployments, the queue and the instance count', () => {
  assert.equal(appStatus({ id: '/a', instances: 1, deployments: [{}] }, undefined), 'deploying');
  assert.equal(appStatus({ id: '/a', instances: 1 }, { delay: { overdue: false, timeLeftSeconds: 5 } }), 'delayed');
  assert.equal(appStatus({ id: '/a', instances: 1 }, { delay: { overdue: true } }), 'waiting');
  assert.equal(appStatus({ id: '/a', instances: 0, tasksRunning: 0 }, undefined), 'suspended');
  assert.equal(appStatus({ id: '/a', instances: 2, tasksRunning: 2 }, undefined), 'running');
});

test('task counts by state', () => {
  assert.deepEqual(countByState([{ state: 'TASK_RUNNING' }, { state: 'TASK_FAILED' }, { state: 'TASK_RUNNING' }]),
    [['TASK_FAILED', 1], ['TASK_RUNNING', 2]]);
});

test('memory formatting', () => {
  assert.equal(formatMem(32), '32 MB');
  assert.equal(formatMem(1536), '1.5 GB');
  assert.equal(formatMem(undefined), '–');
});

test('a 422 shows the message and every detail', () => {
  const body = JSON.stringify({ message: 'Object is not valid', details: [{ path: '/cpus', errors: ['error.min', 'x'] }] });
  assert.equal(errorText(422, body), 'Object is not valid\n/cpus: error.min, x');
  assert.equal(errorText(503, ''), 'HTTP 503');
  assert.equal(errorText(500, 'boom'), '500: boom');
});

test('invalid JSON in the editor is an error in words', () => {
  const r = parseEditor('{"id": ');
  assert.equal(r.ok, false);
  assert.match((r as { error: string }).error, /^Invalid JSON: /);
  assert.deepEqual(parseEditor('{"id":"/a"}'), { ok: true, value: { id: '/a' } });
});

test('the log tail appends at its offset, bounds itself, and restarts on truncation', () => {
  let t = appendChunk({ offset: 0, text: '' }, { offset: 0, data: 'abc' }, 5);
  t = appendChunk(t, { offset: 3, data: 'defg' }, 5);
  assert.deepEqual(t, { offset: 7, text: 'cdefg' });
  t = appendChunk(t, { offset: 0, data: 'new' }, 5);
  assert.deepEqual(t, { offset: 3, text: 'new' });
});

test('search matches any field, case-insensitively', () => {
  const items = [{ id: '/web', host: 'a' }, { id: '/db', host: 'B' }];
  assert.deepEqual(search(items, 'b', (i) => [i.host]), [items[1]]);
  assert.equal(search(items, '  ', (i) => [i.id]).length, 2);
});

test('the virtual list draws only the rows in view', () => {
  assert.deepEqual(visibleRange(0, 400, 28, 100000, 10), [0, 25]);
  assert.deepEqual(visibleRange(28 * 5000, 400, 28, 100000, 10), [4990, 5025]);
  assert.deepEqual(visibleRange(0, 400, 28, 3, 10), [0, 3]);
});

test('the master URL from Marathon\'s --master', () => {
  assert.equal(masterBase('127.0.0.1:5050', 'example'), 'http://example:5050');
  assert.equal(masterBase('http://m:5050/', 'x'), 'http://m:5050');
  assert.equal(masterBase('zk://z:2181/mesos', 'x'), undefined);
  assert.equal(masterBase('m1:5050', 'x', 'https:'), 'https://m1:5050');
});

test('agent address and sandbox lookup', () => {
  assert.equal(agentAddress({ pid: 'slave(1)@10.0.0.1:5051' }), '10.0.0.1:5051');
  const state = { frameworks: [{ id: 'f', executors: [], completed_executors: [{ id: 'e', directory: '/d', completed_tasks: [{ id: 't' }] }] }] };
  assert.equal(sandboxOf(state, 'f', 't'), '/d');
  assert.equal(sandboxOf(state, 'g', 't'), undefined);
});

test('reason tooltips come from the emission table, in either spelling', () => {
  assert.ok(reasons.REASON_SLAVE_DISCONNECTED.some((l) => l.startsWith('Master: ')));
  assert.match(reasonTooltip(reasons, 'REASON_AGENT_DISCONNECTED')!, /did not reconnect in time/);
  assert.equal(reasonTooltip(reasons, 'REASON_NOT_A_THING'), 'REASON_NOT_A_THING');
});

test('the timeline starts at the launch when the scheduler knows it', () => {
  const h = [{ state: 'TASK_STARTING', timestamp: 2, source: 'SOURCE_EXECUTOR' }];
  const s = withStaging(h, '1970-01-01T00:00:01.500Z');
  assert.deepEqual(s.map((e) => e.state), ['TASK_STAGING', 'TASK_STARTING']);
  assert.equal(s[0].timestamp, 1.5);
  assert.equal(s[0].source, undefined);
  assert.equal(withStaging(h, undefined), h);
  assert.equal(withStaging([{ state: 'TASK_STAGING' }], '1970-01-01T00:00:01Z').length, 1);
});

test('RecordIO records split across chunks, lengths in bytes', () => {
  const enc = new TextEncoder();
  const a = '{"type":"HEARTBEAT"}';
  const b = '{"m":"é"}'; // 9 characters, 10 bytes
  const bytes = enc.encode(`${enc.encode(a).length}\n${a}${enc.encode(b).length}\n${b}`);
  const r = new RecordIo();
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i += 3) out.push(...r.push(bytes.subarray(i, i + 3)));
  assert.deepEqual(out, [a, b]);
  assert.throws(() => new RecordIo().push(enc.encode('x1\n{}')), /bad length/);
  assert.throws(() => new RecordIo(10).push(enc.encode('11\n')), /over the limit/);
});

test('the editor shows an app\'s definition without its status', () => {
  const app = { id: '/a', cmd: 'x', instances: 2, tasks: [], tasksRunning: 2, version: 'v', deployments: [] };
  assert.deepEqual(appDefinition(app), { id: '/a', cmd: 'x', instances: 2 });
});

test('pods and apps go to their own endpoints; a pod scales by its whole definition', () => {
  assert.equal(createPath({ id: '/p', containers: [] }), '/v2/pods');
  assert.equal(createPath({ id: '/a', cmd: 'x' }), '/v2/apps');
  assert.equal(createPath(null), '/v2/apps');
  const spec = { id: '/p', containers: [{ name: 'c' }], scaling: { kind: 'fixed', instances: 1, maxInstances: 5 } };
  assert.deepEqual(scaledPod(spec, 3), { ...spec, scaling: { kind: 'fixed', instances: 3, maxInstances: 5 } });
  assert.equal(spec.scaling.instances, 1, 'the definition itself is untouched');
});
