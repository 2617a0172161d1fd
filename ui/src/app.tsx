// The single-page app: the cluster UI when served by the master at `/`, the services UI
// when served by the scheduler at `/ui/`. Hash routes give every object a deep link.
import { render } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import reasons from 'virtual:reasons';
import { ApiError, AuthError, authWanted, credentials, forgetCredentials, getJson, onAuthChange, request, send, setAuthWanted, setCredentials } from './api';
import { applyMasterEvent, applyServiceEvents, withRemovedAgents, SseParser, type Refetch, type Services } from './events';
import {
  agentAddress, appDefinition, appStatus, appendChunk, countByState, createPath, formatMem, scaledPod, formatTime, href, masterBase,
  parseEditor, parseRoute, RecordIo, withStaging, reasonTooltip, sandboxOf, search, visibleRange, type Tail,
} from './logic';
import { buildTree, countsText, flattenTree, instancesOf, subtree, type Leaf, type Row } from './tree';

const services = location.pathname.startsWith('/ui');

function useHash() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return parseRoute(hash, services);
}

/** Re-runs `load` every `ms` (and at once), keeping the last value and the last error. */
function usePoll<T>(load: () => Promise<T>, ms: number, deps: unknown[] = []) {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    let live = true;
    let timer: number | undefined;
    const tick = async () => {
      try {
        const v = await load();
        if (live) { setValue(v); setError(undefined); }
      } catch (e) {
        if (live) setError((e as Error).message);
      }
      if (live) timer = setTimeout(tick, ms) as unknown as number;
    };
    tick();
    return () => { live = false; clearTimeout(timer); };
  }, deps);
  return [value, error] as const;
}

function Alert({ text }: { text?: string }) {
  return text ? <pre class="alert" role="alert">{text}</pre> : null;
}

// ---------------------------------------------------------------- Cluster (master) pages

/** Every task of every framework. Concatenated, not pushed as spread arguments: a call with
 * 100,000 arguments overflows the stack. */
function allTasks(state: any): any[] {
  let out: any[] = [];
  for (const f of state?.frameworks ?? []) out = out.concat(f.tasks ?? [], f.completed_tasks ?? []);
  return out;
}

function Overview({ state, query }: { state: any; query: string }) {
  const agents = search(state.slaves ?? [], query, (a: any) => [a.hostname, a.id]);
  const unreachable = search(state.unreachable_agents ?? [], query, (a: any) => [a.hostname, a.id]);
  const gone = search(state.gone_agents ?? [], query, (a: any) => [a.id]);
  // Recomputed only when the frameworks (or the query) change: with 100,000 tasks these
  // passes cost more than the rows drawn.
  const tasks = useMemo(() => allTasks(state), [state.frameworks]);
  const counts = useMemo(() => countByState(tasks), [tasks]);
  const shown = useMemo(() => search(tasks, query, (t: any) => [t.id, t.name]), [tasks, query]);
  // Every master of the group (with --zk, the others standing by). Membership has no event
  // stream, and the list is a few entries: it is re-read every 10 s.
  const [masters] = usePoll(() => getJson('/master/masters').then((r) => r.masters as any[]), 10000, []);
  return (
    <div>
      <section aria-label="Masters">
        <h2>Masters</h2>
        <p>Leader: <span data-test="leader">{state.leader ?? '–'}</span> · version {state.version} · cluster {state.cluster ?? '–'}</p>
        {masters && (
          <ul class="masters">
            {masters.map((m: any) => (
              <li key={m.znode ?? m.id} data-test="master-row">
                <a href={`${location.protocol}//${m.hostname}:${m.port}/`}>{m.hostname}:{m.port}</a>
                {' '}{m.leading ? <b>leading</b> : 'standing by'}{m.znode && <span class="small mono"> {m.znode}</span>}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-label="Agents">
        <h2>Agents ({state.activated_slaves ?? 0} active, {state.unreachable_slaves ?? 0} unreachable, {(state.gone_agents ?? []).length} gone)</h2>
        <table>
          <thead><tr><th>Host</th><th>ID</th><th>State</th><th>CPUs used/offered/total</th><th>Mem used/offered/total</th><th>Disk used/offered/total</th></tr></thead>
          <tbody>
            {agents.map((a: any) => (
              <tr key={a.id} data-test="agent-row">
                <td><a href={href('agent', a.id)}>{a.hostname}</a></td>
                <td class="mono">{a.id}</td>
                <td>{a.active ? 'active' : 'inactive'}</td>
                <td>{a.used_resources?.cpus ?? 0} / {a.offered_resources?.cpus ?? 0} / {a.resources?.cpus ?? 0}</td>
                <td>{formatMem(a.used_resources?.mem)} / {formatMem(a.offered_resources?.mem)} / {formatMem(a.resources?.mem)}</td>
                <td>{formatMem(a.used_resources?.disk)} / {formatMem(a.offered_resources?.disk)} / {formatMem(a.resources?.disk)}</td>
              </tr>
            ))}
            {unreachable.map((a: any) => (
              <tr key={a.id} data-test="unreachable-agent-row" class="muted">
                <td>{a.hostname}:{a.port}</td>
                <td class="mono">{a.id}</td>
                <td>unreachable since {formatTime(a.unreachable_time)}</td>
                <td colSpan={3}>its tasks are unreachable until it comes back or is marked gone</td>
              </tr>
            ))}
            {gone.map((a: any) => (
              <tr key={a.id} data-test="gone-agent-row" class="muted">
                <td>–</td>
                <td class="mono">{a.id}</td>
                <td>gone since {formatTime(a.gone_time)}</td>
                <td colSpan={3}>marked gone: it may never come back</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-label="Frameworks">
        <h2>Frameworks</h2>
        <table>
          <thead><tr><th>Name</th><th>ID</th><th>Active tasks</th><th>CPUs</th><th>Mem</th></tr></thead>
          <tbody>
            {(state.frameworks ?? []).map((f: any) => (
              <tr key={f.id}>
                <td><a href={href('framework', f.id)}>{f.name}</a></td>
                <td class="mono">{f.id}</td>
                <td>{f.tasks?.length ?? 0}</td>
                <td>{f.used_resources?.cpus ?? 0}</td>
                <td>{formatMem(f.used_resources?.mem)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-label="Task counts">
        <h2>Tasks by state</h2>
        <ul class="counts">{counts.map(([s, n]) => <li key={s}><b>{n}</b> {s}</li>)}</ul>
      </section>
      <TaskList tasks={shown} />
    </div>
  );
}

const ROW = 28;

/** A virtualised task list: only the rows in view are in the DOM. */
function TaskList({ tasks }: { tasks: any[] }) {
  const [top, setTop] = useState(0);
  const viewport = 400;
  const [first, last] = visibleRange(top, viewport, ROW, tasks.length);
  return (
    <section aria-label="Tasks">
      <h2>Tasks ({tasks.length})</h2>
      <div class="vlist" style={{ height: `${Math.min(viewport, tasks.length * ROW + 2)}px` }} onScroll={(e) => setTop((e.target as HTMLElement).scrollTop)}>
        <div style={{ height: `${tasks.length * ROW}px`, position: 'relative' }}>
          {tasks.slice(first, last).map((t, i) => (
            <div class="vrow" key={t.id} style={{ top: `${(first + i) * ROW}px` }}>
              <span class={`state ${t.state}`}>{t.state}</span> <a href={href('task', t.id)} class="mono">{t.id}</a>
            </div>
          ))}
        </div>
      </div>
    </section>
  );
}

function AgentPage({ state, id }: { state: any; id: string }) {
  const agent = (state.slaves ?? []).find((a: any) => a.id === id);
  if (!agent) return <Alert text={`No agent ${id} in the master's state`} />;
  const tasks = allTasks(state).filter((t) => t.slave_id === id);
  return (
    <div>
      <h2>Agent {agent.hostname}</h2>
      <dl><dt>ID</dt><dd class="mono">{agent.id}</dd><dt>Address</dt><dd>{agentAddress(agent)}</dd>
        <dt>Resources</dt><dd>{agent.resources?.cpus} CPUs, {formatMem(agent.resources?.mem)}, disk {formatMem(agent.resources?.disk)}</dd></dl>
      <TaskList tasks={tasks} />
    </div>
  );
}

function FrameworkPage({ state, id }: { state: any; id: string }) {
  const f = (state.frameworks ?? []).find((x: any) => x.id === id);
  if (!f) return <Alert text={`No framework ${id} in the master's state`} />;
  return (
    <div>
      <h2>Framework {f.name}</h2>
      <dl><dt>ID</dt><dd class="mono">{f.id}</dd><dt>Role</dt><dd>{f.role}</dd><dt>Web UI</dt><dd>{f.webui_url ? <a href={f.webui_url}>{f.webui_url}</a> : '–'}</dd></dl>
      <TaskList tasks={[...(f.tasks ?? []), ...(f.completed_tasks ?? [])]} />
    </div>
  );
}

// ---------------------------------------------------------------- Task story and sandbox

/** A task's whole status history from the master (`status_history`), as a timeline. */
function TaskDetail({ master, id, stagedAt }: { master: string; id: string; stagedAt?: string }) {
  const [task, error] = usePoll(async () => {
    const r = await getJson(`${master}/master/tasks?task_id=${encodeURIComponent(id)}&limit=1`);
    return (r.tasks ?? []).find((t: any) => t.id === id);
  }, 1000, [master, id]);
  if (!task) return <div><h2>Task <span class="mono">{id}</span></h2><Alert text={error ?? (task === undefined ? undefined : 'Not known to the master')} /></div>;
  const history = withStaging(task.status_history ?? task.statuses ?? [], stagedAt);
  return (
    <div>
      <h2>Task <span class="mono">{id}</span></h2>
      <Alert text={error} />
      <p>State <span class={`state ${task.state}`} data-test="task-state">{task.state}</span> on agent <a href={`${master}/#/agent/${encodeURIComponent(task.slave_id)}`}>{task.slave_id}</a></p>
      <h3>Status history</h3>
      <ol class="timeline" aria-label="Status history">
        {history.map((h, i) => (
          <li key={i} data-test="history-entry">
            <span class={`state ${h.state}`}>{h.state}</span>
            <span class="time">{formatTime(h.timestamp)}</span>
            {h.source && <span class="source">{h.source}</span>}
            {h.reason && <abbr class="reason" title={reasonTooltip(reasons, h.reason)}>{h.reason}</abbr>}
            {h.message && <span class="message">{h.message}</span>}
          </li>
        ))}
      </ol>
      <Sandbox master={master} task={task} />
    </div>
  );
}

function Sandbox({ master, task }: { master: string; task: any }) {
  const [place, error] = usePoll(async () => {
    const slaves = await getJson(`${master}/master/slaves`);
    const agent = (slaves.slaves ?? []).find((a: any) => a.id === task.slave_id);
    const address = agent && agentAddress(agent);
    if (!address) throw new ApiError('The task\'s agent is not known to the master');
    // Agents speak what the master speaks (LIBPROCESS_SSL_ENABLED is cluster-wide).
    const base = `${location.protocol}//${address}`;
    const dir = sandboxOf(await getJson(`${base}/state`), task.framework_id, task.id);
    if (!dir) throw new ApiError('The agent no longer has this task\'s sandbox');
    const files = await getJson(`${base}/files/browse?path=${encodeURIComponent(dir)}`);
    return { base, dir, files: files as any[] };
  }, 5000, [master, task.id]);
  const [file, setFile] = useState('stdout');
  if (!place) return <section aria-label="Sandbox"><h3>Sandbox</h3><Alert text={error} /></section>;
  return (
    <section aria-label="Sandbox">
      <h3>Sandbox <span class="mono small">{place.dir}</span></h3>
      <ul class="files">
        {place.files.map((f) => {
          const name = f.path.split('/').pop();
          return (
            <li key={f.path}>
              <button type="button" onClick={() => setFile(name)} aria-pressed={file === name}>{name}</button>
              {' '}<a href={`${place.base}/files/download?path=${encodeURIComponent(f.path)}`} aria-label={`Download ${name}`}>download</a>
              <span class="small"> {f.size} bytes</span>
            </li>
          );
        })}
      </ul>
      <LogTail base={place.base} path={`${place.dir}/${file}`} />
    </section>
  );
}

/** Follows a file through `/files/read` offsets, keeping the last 256 KiB. */
function LogTail({ base, path }: { base: string; path: string }) {
  const [tail, setTail] = useState<Tail>({ offset: 0, text: '' });
  const [error, setError] = useState<string | undefined>();
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    let live = true;
    let current: Tail = { offset: 0, text: '' };
    setTail(current);
    const tick = async () => {
      try {
        for (;;) {
          const chunk = await getJson(`${base}/files/read?path=${encodeURIComponent(path)}&offset=${current.offset}&length=65536`);
          if (!live) return;
          current = appendChunk(current, chunk, 262144);
          setTail(current);
          setError(undefined);
          if (chunk.data.length < 65536) break;
        }
      } catch (e) {
        if (live) setError((e as Error).message);
      }
      if (live) setTimeout(tick, 1000);
    };
    tick();
    return () => { live = false; };
  }, [base, path]);
  useEffect(() => { if (pre.current) pre.current.scrollTop = pre.current.scrollHeight; }, [tail.text]);
  return (
    <div>
      <Alert text={error} />
      <pre class="log" ref={pre} aria-label={`Tail of ${path.split('/').pop()}`} data-test="log">{tail.text}</pre>
    </div>
  );
}

// ---------------------------------------------------------------- Live state

/** Re-renders when the credentials, or the need for them, change; `key` changes with the
 * credentials, so the data hooks reconnect with the new ones. */
function useAuth() {
  const [, tick] = useState(0);
  useEffect(() => onAuthChange(() => tick((n) => n + 1)), []);
  const c = credentials();
  return { user: c?.user, key: c ? `${c.user}:${c.password}` : '', wanted: authWanted() };
}

/** Events held before they are applied (one render per batch, not per event), and the most
 * a batch may hold before a full reload is cheaper and bounded. */
const BATCH_MS = 50;
const BATCH_MAX = 5000;

/** Loads the scheduler's objects once, then applies `/v2/events` to them in place. What an
 * event does not carry is refetched alone (the queue, one app); an event that cannot be
 * applied, and every (re)connection of the stream, reloads everything. The stream is read
 * with fetch (EventSource cannot send credentials) and reopened on its own when it drops. */
function useServices(key: string): [Services | undefined, string | undefined, boolean] {
  const [data, setData] = useState<Services | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [streaming, setStreaming] = useState(false);
  useEffect(() => {
    let live = true;
    let current: Services | undefined;
    // Events that arrive during a full load may postdate what it read: they are applied
    // again to its result (applying an event twice gives the same state).
    let during: { type: string; data: any }[] | undefined;
    let again = false;
    let pending: { type: string; data: any }[] = [];
    let flushTimer: number | undefined;
    let reloadTimer: number | undefined;
    let queueTimer: number | undefined;
    let retry: number | undefined;
    let spacing = 100;
    const appsLoading = new Set<string>();
    const publish = (s: Services) => { current = s; if (live) setData(s); };
    const fail = (e: unknown) => { if (live) setError((e as Error).message); };

    const loadAll = async () => {
      if (during) { again = true; return; }
      during = [];
      const started = performance.now();
      try {
        const [apps, pods, deployments, queue, info] = await Promise.all([
          getJson('/v2/apps?embed=apps.tasks&embed=apps.deployments&embed=apps.lastTaskFailure'),
          // A scheduler without pods (an older Marathon, or pods off) answers an error here;
          // the tree then holds apps only. Missing credentials are still asked for.
          getJson('/v2/pods/::status').catch((e) => { if (e instanceof AuthError) throw e; return []; }),
          getJson('/v2/deployments'), getJson('/v2/queue'), getJson('/v2/info'),
        ]);
        const loaded: Services = { apps: apps.apps ?? [], pods: Array.isArray(pods) ? pods : [], deployments, queue: queue.queue ?? [], info };
        publish(applyServiceEvents(loaded, during).state);
        if (live) setError(undefined);
      } catch (e) {
        fail(e);
      }
      during = undefined;
      spacing = Math.min(5000, Math.max(100, 2 * (performance.now() - started)));
      if (again && live) { again = false; reloadSoon(); }
    };
    const reloadSoon = () => {
      if (reloadTimer === undefined) reloadTimer = setTimeout(() => { reloadTimer = undefined; loadAll(); }, spacing) as unknown as number;
    };
    // The queue is small (waiting apps only) but no event carries it: refetched at most
    // every half second while events come.
    const queueSoon = () => {
      if (queueTimer !== undefined) return;
      queueTimer = setTimeout(async () => {
        try {
          const q = await getJson('/v2/queue');
          if (current) publish({ ...current, queue: q.queue ?? [] });
        } catch (e) { fail(e); }
        queueTimer = undefined;
      }, 500) as unknown as number;
    };
    const loadApp = async (id: string) => {
      if (appsLoading.has(id) || appsLoading.size > 20) return;
      appsLoading.add(id);
      try {
        const r = await getJson(`/v2/apps${id}?embed=app.tasks&embed=app.deployments&embed=app.lastTaskFailure`);
        if (current && r.app) {
          const at = current.apps.findIndex((a) => a.id === id);
          if (at >= 0) publish({ ...current, apps: [...current.apps.slice(0, at), r.app, ...current.apps.slice(at + 1)] });
        }
      } catch (e) { fail(e); }
      appsLoading.delete(id);
    };
    const refetch = (r: Refetch) => {
      if (r.all) { reloadSoon(); return; }
      if (r.queue) queueSoon();
      for (const id of r.apps ?? []) loadApp(id);
    };
    const flush = () => {
      flushTimer = undefined;
      const batch = pending;
      pending = [];
      if (!current || !live) return;
      const r = applyServiceEvents(current, batch);
      if (r.state !== current) publish(r.state);
      refetch(r.refetch);
    };
    const onEvent = (type: string, data: any) => {
      if (during) {
        if (during.length < BATCH_MAX) during.push({ type, data });
        else again = true;
      }
      if (pending.length >= BATCH_MAX) { pending = []; reloadSoon(); return; }
      pending.push({ type, data });
      if (flushTimer === undefined) flushTimer = setTimeout(flush, BATCH_MS) as unknown as number;
    };

    // While something waits, the queue's offer summary and backoff change with every offer,
    // and no event says so: only then, and only the queue, is re-read every few seconds.
    const waitingTick = setInterval(() => { if (current?.queue.length) queueSoon(); }, 3000);
    let abort = new AbortController();
    let opened = false;
    const connect = async () => {
      abort = new AbortController();
      let authFailed = false;
      try {
        const response = await request('/v2/events', { headers: { Accept: 'text/event-stream' }, signal: abort.signal });
        if (!response.ok || !response.body) throw new ApiError(`The event stream answered HTTP ${response.status}`);
        setStreaming(true);
        opened = true;
        // Everything, now: events may have been missed while the stream was down.
        loadAll();
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        const parser = new SseParser();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          for (const e of parser.push(value)) {
            let parsed: unknown;
            try { parsed = JSON.parse(e.data); } catch { continue; }
            onEvent(e.type, parsed);
          }
        }
      } catch (e) {
        if (!live) return;
        authFailed = e instanceof AuthError;
        if (!opened) { loadAll(); opened = true; }
      }
      if (!live) return;
      setStreaming(false);
      // Refused credentials are not retried: the sign-in form restarts this with new ones.
      if (!authFailed) retry = setTimeout(connect, 2000) as unknown as number;
    };
    connect();
    return () => {
      live = false;
      abort.abort();
      clearTimeout(flushTimer); clearTimeout(reloadTimer); clearTimeout(queueTimer); clearTimeout(retry); clearInterval(waitingTick);
    };
  }, [key]);
  return [data, error, streaming];
}

/** The master's state, loaded once and then kept by applying the operator API's SUBSCRIBE
 * events to it in place (tasks, agents, frameworks); an event it cannot apply, and every
 * (re)subscription, reloads `/master/state` (reloads spaced by twice the last one's
 * duration). The stream is reopened on its own when it drops. */
function useClusterState(key: string): [any, string | undefined, boolean] {
  const [state, setState] = useState<any>();
  const [error, setError] = useState<string | undefined>();
  const [streaming, setStreaming] = useState(false);
  useEffect(() => {
    let live = true;
    let current: any;
    let during: any[] | undefined;
    let again = false;
    let pending: any[] = [];
    let flushTimer: number | undefined;
    let reloadTimer: number | undefined;
    let retry: number | undefined;
    let spacing = 100;
    const publish = (s: any) => { current = s; if (live) setState(s); };
    const applyAll = (s: any, events: any[]) => {
      let reload = false;
      let agents = false;
      for (const e of events) {
        const r = applyMasterEvent(s, e);
        s = r.state;
        reload ||= r.reload;
        agents ||= r.agents === true;
      }
      return { state: s, reload, agents };
    };
    // The unreachable and gone lists, re-read alone (`/master/slaves`: agents only, no tasks)
    // when an agent is removed; one read at a time, another after it if asked meanwhile.
    let agentsReading = false;
    let agentsAgain = false;
    const refetchAgents = async () => {
      if (agentsReading) { agentsAgain = true; return; }
      agentsReading = true;
      try {
        const slaves = await getJson('/master/slaves');
        if (live && current) publish(withRemovedAgents(current, slaves));
      } catch {
        // The next reload brings them.
      }
      agentsReading = false;
      if (agentsAgain && live) { agentsAgain = false; refetchAgents(); }
    };
    const load = async () => {
      if (during) { again = true; return; }
      during = [];
      const started = performance.now();
      try {
        const s = await getJson('/master/state');
        // Events received during the load are applied again; one it cannot apply is
        // already reflected in what was just read, or will be by the next reload.
        publish(applyAll(s, during).state);
        if (live) setError(undefined);
      } catch (e) {
        if (live) setError((e as Error).message);
      }
      during = undefined;
      spacing = Math.min(5000, Math.max(100, 2 * (performance.now() - started)));
      if (again && live) { again = false; reloadSoon(); }
    };
    const reloadSoon = () => {
      if (reloadTimer === undefined) reloadTimer = setTimeout(() => { reloadTimer = undefined; load(); }, spacing) as unknown as number;
    };
    const flush = () => {
      flushTimer = undefined;
      const batch = pending;
      pending = [];
      if (!current || !live) return;
      const r = applyAll(current, batch);
      if (r.state !== current) publish(r.state);
      if (r.reload) reloadSoon();
      else if (r.agents) refetchAgents();
    };
    const onEvent = (event: any) => {
      if (event.type === 'HEARTBEAT' || event.type === 'SUBSCRIBED') return;
      if (during) {
        if (during.length < BATCH_MAX) during.push(event);
        else again = true;
      }
      if (pending.length >= BATCH_MAX) { pending = []; reloadSoon(); return; }
      pending.push(event);
      if (flushTimer === undefined) flushTimer = setTimeout(flush, BATCH_MS) as unknown as number;
    };
    let abort = new AbortController();
    let opened = false;
    const subscribe = async () => {
      abort = new AbortController();
      let authFailed = false;
      try {
        const response = await request('/api/v1', {
          method: 'POST', signal: abort.signal,
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ type: 'SUBSCRIBE' }),
        });
        if (!response.ok || !response.body) throw new Error(`SUBSCRIBE answered ${response.status}`);
        setStreaming(true);
        opened = true;
        load();
        const reader = response.body.getReader();
        const records = new RecordIo();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          for (const record of records.push(value)) onEvent(JSON.parse(record));
        }
      } catch (e) {
        if (!live) return;
        authFailed = e instanceof AuthError;
        if (!opened) { load(); opened = true; }
        setError(authFailed ? (e as Error).message : `The master's event stream dropped (${(e as Error).message}); reconnecting`);
      }
      if (!live) return;
      setStreaming(false);
      if (!authFailed) retry = setTimeout(subscribe, 2000) as unknown as number;
    };
    subscribe();
    return () => { live = false; abort.abort(); clearTimeout(flushTimer); clearTimeout(reloadTimer); clearTimeout(retry); };
  }, [key]);
  return [state, error, streaming];
}

// ---------------------------------------------------------------- Services (scheduler) pages

const EXAMPLE = JSON.stringify({ id: '/hello', cmd: 'while true; do echo hello; sleep 1; done', cpus: 0.1, mem: 32, instances: 1 }, null, 2);

function Editor() {
  const [text, setText] = useState(EXAMPLE);
  const [error, setError] = useState<string | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const deploy = async () => {
    setDone(undefined);
    const parsed = parseEditor(text);
    if (!parsed.ok) { setError(parsed.error); return; }
    try {
      const app = await send('POST', createPath(parsed.value), parsed.value);
      setError(undefined);
      setDone(`Created ${app?.id}`);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <section aria-label="Create an app">
      <h2>Create an app or a pod</h2>
      <p class="small">A definition with <code>containers</code> is created as a pod.</p>
      <textarea aria-label="App JSON" id="app-json" rows={10} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      <div><button type="button" id="deploy" onClick={deploy}>Deploy</button> <span role="status">{done}</span></div>
      <Alert text={error} />
    </section>
  );
}

/** Every app and pod with its status (running, deploying, waiting, delayed, suspended). */
function leavesOf(data: Services): Leaf[] {
  const queue = new Map<string, any>();
  for (const q of data.queue) { const id = (q.app ?? q.pod)?.id; if (id) queue.set(id, q); }
  const deploying = new Set<string>();
  for (const d of data.deployments) for (const id of d.affectedApps ?? []) deploying.add(id);
  for (const d of data.deployments) for (const id of d.affectedPods ?? []) deploying.add(id);
  const leaves: Leaf[] = [];
  for (const a of data.apps) {
    const deployments = (a.deployments?.length ?? 0) > 0 || deploying.has(a.id) ? [{}] : [];
    leaves.push({ kind: 'app', id: a.id, item: a, status: appStatus({ ...a, deployments }, queue.get(a.id)) as Leaf['status'] });
  }
  for (const p of data.pods) {
    const { wanted, running } = instancesOf({ kind: 'pod', item: p });
    const deployments = deploying.has(p.id) ? [{}] : [];
    leaves.push({ kind: 'pod', id: p.id, item: p, status: appStatus({ id: p.id, instances: wanted, tasksRunning: running, deployments }, queue.get(p.id)) as Leaf['status'] });
  }
  return leaves;
}

function searchFields(l: Leaf): (string | undefined)[] {
  if (l.kind === 'app') return [l.id, ...(l.item.tasks ?? []).map((t: any) => t.id), ...(l.item.tasks ?? []).map((t: any) => t.host)];
  return [l.id, ...(l.item.instances ?? []).map((i: any) => i.id), ...(l.item.instances ?? []).map((i: any) => i.agentHostname)];
}

function AppsPage({ data, query, group }: { data: Services; query: string; group?: string }) {
  const leaves = useMemo(() => leavesOf(data), [data.apps, data.pods, data.queue, data.deployments]);
  const shown = useMemo(() => search(leaves, query, searchFields), [leaves, query]);
  const root = useMemo(() => buildTree(shown), [shown]);
  const top = group ? subtree(root, group) : root;
  return (
    <div>
      <section aria-label="Services">
        {group
          ? <h2>Group <span class="mono">{group}</span> <a href={href('apps')} class="small">all services</a></h2>
          : <h2>Services</h2>}
        {top
          ? <p class="small" data-test="tree-counts">{countsText(top.counts)}{query.trim() ? ` matching “${query.trim()}”` : ''}</p>
          : <Alert text={`No group ${group}${query.trim() ? ` holds anything matching “${query.trim()}”` : ''}`} />}
        {top && <ServiceTree root={top} />}
      </section>
      {!group && <Editor />}
    </div>
  );
}

/** The services tree, virtualised: 10,000 apps cost the DOM only the rows in view. Groups
 * collapse (their row keeps its counts); arrow keys move between rows, Enter or Space opens
 * an app or toggles a group. */
function ServiceTree({ root }: { root: ReturnType<typeof buildTree> }) {
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(() => new Set());
  const rows = useMemo(() => flattenTree(root, collapsed), [root, collapsed]);
  const [top, setTop] = useState(0);
  const list = useRef<HTMLDivElement>(null);
  const viewport = 480;
  const [first, last] = visibleRange(top, viewport, ROW, rows.length);
  const toggle = (id: string) => setCollapsed((c) => {
    const n = new Set(c);
    if (n.has(id)) n.delete(id); else n.add(id);
    return n;
  });
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const focusable = [...(list.current?.querySelectorAll<HTMLElement>('[data-nav]') ?? [])];
    const at = focusable.indexOf(document.activeElement as HTMLElement);
    const next = focusable[at + (e.key === 'ArrowDown' ? 1 : -1)];
    if (next) { e.preventDefault(); next.focus(); next.scrollIntoView({ block: 'nearest' }); }
  };
  return (
    <div role="treegrid" aria-label="Services tree" aria-rowcount={rows.length + 1} onKeyDown={onKeyDown}>
      <div role="row" class="grow ghead">
        <span role="columnheader">ID</span><span role="columnheader">Status</span><span role="columnheader" title="Running / wanted">Instances</span>
        <span role="columnheader">Health</span><span role="columnheader" class="opt">CPUs</span><span role="columnheader" class="opt">Mem</span>
      </div>
      <div class="vlist" ref={list} style={{ height: `${Math.min(viewport, rows.length * ROW + 2)}px` }} onScroll={(e) => setTop((e.target as HTMLElement).scrollTop)}>
        <div style={{ height: `${rows.length * ROW}px`, position: 'relative' }}>
          {rows.slice(first, last).map((r, i) => <TreeRow key={`${r.kind}:${r.id}`} row={r} index={first + i} toggle={toggle} />)}
        </div>
      </div>
    </div>
  );
}

function baseName(id: string): string {
  return id.slice(id.lastIndexOf('/') + 1) || id;
}

function healthText(app: any): string {
  if (!(app.healthChecks ?? []).length) return '–';
  const bad = app.tasksUnhealthy ?? 0;
  return `${app.tasksHealthy ?? 0} healthy${bad ? `, ${bad} unhealthy` : ''}`;
}

function TreeRow({ row, index, toggle }: { row: Row; index: number; toggle: (id: string) => void }) {
  const style = { top: `${index * ROW}px` };
  const indent = { paddingLeft: `${row.depth * 16}px` };
  if (row.kind === 'group') {
    return (
      <div role="row" class="grow vrow grouprow" data-test="group-row" data-group={row.id} aria-level={row.depth + 1} aria-expanded={row.expanded} aria-rowindex={index + 2} style={style}>
        <span role="gridcell" style={indent}>
          <button type="button" class="toggle" data-nav aria-expanded={row.expanded} aria-label={`${row.expanded ? 'Collapse' : 'Expand'} group ${row.id}`}
            onClick={() => toggle(row.id)}>{row.expanded ? '▾' : '▸'}</button>{' '}
          <a href={href('group', row.id)} aria-label={`Group ${row.id}`}>{baseName(row.id)}/</a>
        </span>
        <span role="gridcell" class="gcounts small" data-test="group-counts">{countsText(row.counts)}</span>
      </div>
    );
  }
  const { wanted, running } = instancesOf(row);
  const item = row.item;
  const cpus = row.kind === 'app' ? item.cpus : (item.spec?.containers ?? []).reduce((n: number, c: any) => n + (c.resources?.cpus ?? 0), 0);
  const mem = row.kind === 'app' ? item.mem : (item.spec?.containers ?? []).reduce((n: number, c: any) => n + (c.resources?.mem ?? 0), 0);
  const open = (e: KeyboardEvent) => {
    // Links open on Enter by themselves; Space opens them too, as on the other controls.
    if (e.key === ' ') { e.preventDefault(); location.hash = href(row.kind, row.id); }
  };
  return (
    <div role="row" class="grow vrow" data-test="app-row" data-app={row.id} data-kind={row.kind} aria-level={row.depth + 1} aria-rowindex={index + 2} style={style}>
      <span role="gridcell" style={indent}>
        <a href={href(row.kind, row.id)} data-nav onKeyDown={open} aria-label={`${row.kind === 'pod' ? 'Pod' : 'App'} ${row.id}`}>{baseName(row.id)}</a>
        {row.kind === 'pod' && <span class="small"> pod</span>}
      </span>
      <span role="gridcell" data-test="app-status" class={`status ${row.status}`}>{row.status}</span>
      <span role="gridcell" data-test="app-count">{running} / {wanted}</span>
      <span role="gridcell">{row.kind === 'app' ? healthText(item) : '–'}</span>
      <span role="gridcell" class="opt">{cpus}</span>
      <span role="gridcell" class="opt">{formatMem(mem)}</span>
    </div>
  );
}

/** Cancels on Escape: the destroy confirmation and the editors close with it. */
function onEscape(f: () => void) {
  return (e: KeyboardEvent) => { if (e.key === 'Escape') { e.preventDefault(); f(); } };
}

function AppPage({ data, id, master }: { data: Services; id: string; master?: string }) {
  const app = data.apps.find((a) => a.id === id);
  // Undefined until the user edits the field; an emptied field stays empty (it used to snap
  // back to the current count, so typing after clearing it appended: 1 → 12).
  const [count, setCount] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>();
  const [confirm, setConfirm] = useState(false);
  if (!app) return <Alert text={`No app ${id}`} />;
  const act = async (method: string, path: string, body?: unknown) => {
    try { await send(method, path, body); setError(undefined); } catch (e) { setError((e as Error).message); }
  };
  const base = `/v2/apps${app.id}`;
  const queue = data.queue.find((q) => q.app?.id === id);
  return (
    <div>
      <h2>App <span class="mono">{app.id}</span> <span class="badge" data-test="app-status">{appStatus(app, queue)}</span></h2>
      <p class="small">In group <a href={href('group', app.id.slice(0, app.id.lastIndexOf('/')) || '/')}>{app.id.slice(0, app.id.lastIndexOf('/')) || '/'}</a></p>
      <p class="mono small">{app.cmd}</p>
      <div class="actions" onKeyDown={onEscape(() => setConfirm(false))}>
        <label>Instances <input type="number" min="0" value={count ?? app.instances} id="scale-count"
          onInput={(e) => setCount((e.target as HTMLInputElement).value)} /></label>
        <button type="button" id="scale" onClick={() => act('PUT', base, { instances: Number(count || app.instances) })}>Scale</button>
        <button type="button" onClick={() => act('POST', `${base}/restart`)}>Restart</button>
        <button type="button" onClick={() => act('PUT', base, { instances: 0 })}>Suspend</button>
        {confirm
          ? <><button type="button" class="danger" autoFocus onClick={() => { setConfirm(false); act('DELETE', base).then(() => { location.hash = href('apps'); }); }}>Confirm destroy</button>
            <button type="button" onClick={() => setConfirm(false)}>Keep it</button></>
          : <button type="button" onClick={() => setConfirm(true)}>Destroy</button>}
      </div>
      <Alert text={error} />
      {queue && <Waiting entry={queue} />}
      {app.lastTaskFailure && (
        <section aria-label="Last task failure">
          <h3>Last task failure</h3>
          <p data-test="last-failure"><span class={`state ${app.lastTaskFailure.state}`}>{app.lastTaskFailure.state}</span> {app.lastTaskFailure.message} <span class="small">{app.lastTaskFailure.timestamp}</span></p>
        </section>
      )}
      <h3>Instances ({app.tasksRunning ?? 0} running of {app.instances})</h3>
      <table>
        <thead><tr><th>Task</th><th>State</th><th>Host</th><th>Ports</th><th>Health</th><th aria-label="Actions"></th></tr></thead>
        <tbody>
          {(app.tasks ?? []).map((t: any) => (
            <tr key={t.id} data-test="instance-row">
              <td><a href={href('task', t.id)} class="mono">{t.id}</a></td>
              <td>{t.state}</td>
              <td>{t.host}</td>
              <td>{(t.ports ?? []).map((p: number) => <a key={p} href={`http://${t.host}:${p}/`} aria-label={`Port ${p} on ${t.host}`}>{p} </a>)}</td>
              <td>{(t.healthCheckResults ?? []).map((h: any) => (h.alive ? 'healthy' : 'unhealthy')).join(', ') || '–'}</td>
              <td><button type="button" aria-label={`Kill ${t.id}`} onClick={() => act('DELETE', `${base}/tasks/${encodeURIComponent(t.id)}`)}>Kill</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      {!master && <Alert text="The master's address is unknown, so task histories cannot be shown" />}
      <EditApp app={app} />
    </div>
  );
}

function PodPage({ data, id }: { data: Services; id: string }) {
  const pod = data.pods.find((p) => p.id === id);
  const [error, setError] = useState<string | undefined>();
  const [confirm, setConfirm] = useState(false);
  // Undefined until the user edits the field; an emptied field stays empty (it used to snap
  // back to the current count, so typing after clearing it appended: 1 → 12).
  const [count, setCount] = useState<string | undefined>(undefined);
  if (!pod) return <Alert text={`No pod ${id}`} />;
  const scale = async () => {
    try {
      await send('PUT', `/v2/pods${pod.id}`, scaledPod(pod.spec ?? {}, Number(count || (pod.spec?.scaling?.instances ?? 0))));
      setError(undefined);
    } catch (e) { setError((e as Error).message); }
  };
  const leaf = leavesOf({ ...data, apps: [], pods: [pod] })[0];
  const { wanted, running } = instancesOf(leaf);
  const destroy = async () => {
    setConfirm(false);
    try { await send('DELETE', `/v2/pods${pod.id}`); location.hash = href('apps'); } catch (e) { setError((e as Error).message); }
  };
  const queue = data.queue.find((q) => q.pod?.id === id);
  return (
    <div>
      <h2>Pod <span class="mono">{pod.id}</span> <span class="badge" data-test="app-status">{leaf.status}</span></h2>
      <p>{running} of {wanted} instances stable · containers {(pod.spec?.containers ?? []).map((c: any) => c.name).join(', ')}</p>
      <div class="actions" onKeyDown={onEscape(() => setConfirm(false))}>
        <label>Instances <input type="number" min="0" value={count ?? wanted} id="pod-scale-count"
          onInput={(e) => setCount((e.target as HTMLInputElement).value)} /></label>
        <button type="button" id="pod-scale" onClick={scale}>Scale</button>
        {confirm
          ? <><button type="button" class="danger" autoFocus onClick={destroy}>Confirm destroy</button><button type="button" onClick={() => setConfirm(false)}>Keep it</button></>
          : <button type="button" onClick={() => setConfirm(true)}>Destroy</button>}
      </div>
      <Alert text={error} />
      {queue && <Waiting entry={queue} />}
      <table>
        <thead><tr><th>Instance</th><th>Status</th><th>Host</th><th>Containers</th></tr></thead>
        <tbody>
          {(pod.instances ?? []).map((i: any) => (
            <tr key={i.id} data-test="instance-row">
              <td class="mono">{i.id}</td><td>{i.status}</td><td>{i.agentHostname ?? '–'}</td>
              <td>{(i.containers ?? []).map((c: any) => `${c.name}: ${c.status}`).join(', ') || '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Edits an app's definition in place (`PUT /v2/apps/{id}`); the API's 422 shows inline and
 * the text is kept. The text is taken from the app when the editor opens, not on every event,
 * so a live update never overwrites what the user types. */
function EditApp({ app }: { app: any }) {
  const [text, setText] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  if (text === undefined) {
    return <button type="button" id="edit" onClick={() => setText(JSON.stringify(appDefinition(app), null, 2))}>Edit definition</button>;
  }
  const save = async () => {
    const parsed = parseEditor(text);
    if (!parsed.ok) { setError(parsed.error); return; }
    try {
      await send('PUT', `/v2/apps${app.id}`, parsed.value);
      setError(undefined);
      setText(undefined);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <section aria-label="Edit the app" onKeyDown={onEscape(() => { setText(undefined); setError(undefined); })}>
      <h3>Edit {app.id}</h3>
      <textarea aria-label="App definition JSON" id="edit-json" rows={12} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      <div><button type="button" id="save" onClick={save}>Save</button> <button type="button" onClick={() => { setText(undefined); setError(undefined); }}>Cancel</button></div>
      <Alert text={error} />
    </section>
  );
}

/** Why an app waits: the queue's offer-matching summary and the launch backoff. */
function Waiting({ entry }: { entry: any }) {
  const summary = entry.processedOffersSummary;
  return (
    <section aria-label="Why it waits">
      <h3>Waiting: {entry.count} instance(s) to launch</h3>
      {entry.delay && <p>Backoff: {entry.delay.overdue ? 'overdue, launching on the next offer' : `${entry.delay.timeLeftSeconds}s left`}</p>}
      {summary && (
        <p data-test="waiting-reason">{summary.processedOffersCount} offers processed, {summary.unusedOffersCount} unused.
          {(summary.rejectSummaryLastOffers ?? []).filter((r: any) => r.declined > 0).map((r: any) => ` ${r.reason}: declined ${r.declined} of ${r.processed}.`)}</p>
      )}
    </section>
  );
}

function DeploymentsPage({ data }: { data: Services }) {
  const [error, setError] = useState<string | undefined>();
  const cancel = async (id: string, force: boolean) => {
    try { await send('DELETE', `/v2/deployments/${id}${force ? '?force=true' : ''}`); setError(undefined); } catch (e) { setError((e as Error).message); }
  };
  return (
    <section aria-label="Deployments">
      <h2>Deployments ({data.deployments.length})</h2>
      <Alert text={error} />
      <table>
        <thead><tr><th>ID</th><th>Apps</th><th>Step</th><th>Actions</th><th></th></tr></thead>
        <tbody>
          {data.deployments.map((d) => (
            <tr key={d.id}>
              <td class="mono">{d.id}</td>
              <td>{(d.affectedApps ?? []).join(', ')}</td>
              <td>{d.currentStep} / {d.totalSteps}</td>
              <td>{(d.currentActions ?? []).map((a: any) => `${a.action} ${a.app}`).join(', ')}</td>
              <td><button type="button" onClick={() => cancel(d.id, false)}>Roll back</button> <button type="button" onClick={() => cancel(d.id, true)}>Stop</button></td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function QueuePage({ data }: { data: Services }) {
  return (
    <section aria-label="Queue">
      <h2>Queue ({data.queue.length})</h2>
      {data.queue.map((q) => {
        const id = (q.app ?? q.pod)?.id;
        return <div key={id}><h3><a href={href(q.pod ? 'pod' : 'app', id)}>{id}</a></h3><Waiting entry={q} /></div>;
      })}
    </section>
  );
}

// ---------------------------------------------------------------- Shell

/** The sign-in form, shown when a daemon answers 401: the page's own, or one it reads across
 * origins (the master's task histories and the agents' sandboxes, from the services page),
 * which the form names. The credentials are kept in sessionStorage for this tab, for that
 * origin only, and sent as `Authorization: Basic` to it from then on. */
function SignIn({ origin, onClose }: { origin: string; onClose: () => void }) {
  const own = origin === location.origin;
  const known = credentials(origin);
  const [user, setUser] = useState(known?.user ?? credentials()?.user ?? '');
  const [password, setPassword] = useState('');
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => { first.current?.focus(); }, []);
  const submit = (e: Event) => {
    e.preventDefault();
    setCredentials({ user, password }, origin);
    setAuthWanted(undefined);
  };
  return (
    <div class="backdrop">
      <form class="dialog" role="dialog" aria-modal="true" aria-labelledby="signin-title" onSubmit={submit} onKeyDown={(e) => { onEscape(onClose)(e); trapTab(e); }}>
        <h2 id="signin-title">Sign in</h2>
        <p data-test="signin-reason">{own
          ? (known ? `The daemon refused the credentials of '${known.user}'.` : 'This daemon asks for a user and password.')
          : (known ? `${origin} refused the credentials of '${known.user}'.` : `${origin}, another daemon of this cluster, asks for a user and password to show this.`)}</p>
        <label>User <input id="signin-user" ref={first} autocomplete="username" required value={user} onInput={(e) => setUser((e.target as HTMLInputElement).value)} /></label>
        <label>Password <input id="signin-password" type="password" autocomplete="current-password" required value={password}
          onInput={(e) => setPassword((e.target as HTMLInputElement).value)} /></label>
        <div class="actions"><button type="submit" id="signin">Sign in</button> <button type="button" onClick={onClose}>Cancel</button></div>
      </form>
    </div>
  );
}

/** Keeps Tab inside a modal dialog: from its last control to its first, and back. */
function trapTab(e: KeyboardEvent) {
  if (e.key !== 'Tab') return;
  const controls = [...(e.currentTarget as HTMLElement).querySelectorAll<HTMLElement>('input, button, textarea, select, a[href]')];
  const [first, last] = [controls[0], controls[controls.length - 1]];
  if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first?.focus(); }
  if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last?.focus(); }
}

function Shell({ title, nav, other, query, setQuery, live, auth, children }: any) {
  const search = useRef<HTMLInputElement>(null);
  const [dismissed, setDismissed] = useState(false);
  const [asked, setAsked] = useState(false);
  useEffect(() => { if (auth.wanted) { setAsked(true); setDismissed(false); } }, [auth.wanted]);
  useEffect(() => {
    // `/` jumps to the search box, as on most sites, unless the user is typing somewhere.
    const on = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || t.closest('input, textarea, select, [contenteditable]')) return;
      e.preventDefault();
      search.current?.focus();
    };
    addEventListener('keydown', on);
    return () => removeEventListener('keydown', on);
  }, []);
  const close = useCallback(() => setDismissed(true), []);
  return (
    <div>
      <header>
        <h1>Drover · {title}</h1>
        <nav aria-label="Pages">{nav.map(([page, label]: string[]) => <a key={page} href={href(page)}>{label}</a>)}{other}</nav>
        <input type="search" id="search" ref={search} aria-label="Search (press / to focus)" placeholder="Search app, task or host  /" value={query}
          onInput={(e) => setQuery((e.target as HTMLInputElement).value)} />
        <span class={live ? 'live on' : 'live'} role="status">{live ? 'live' : 'reconnecting…'}</span>
        {auth.user && auth.wanted !== location.origin
          ? <span class="small">Signed in as <b data-test="user">{auth.user}</b> <button type="button" onClick={forgetCredentials}>Sign out</button></span>
          : asked && <button type="button" id="open-signin" onClick={() => { setDismissed(false); setAuthWanted(location.origin); }}>Sign in</button>}
        {auth.wanted && auth.wanted !== location.origin && dismissed
          && <button type="button" id="open-signin-other" onClick={() => setDismissed(false)}>Sign in to {auth.wanted}</button>}
      </header>
      <main>{children}</main>
      {auth.wanted && !dismissed && <SignIn key={auth.wanted} origin={auth.wanted} onClose={close} />}
    </div>
  );
}

function ClusterApp() {
  const route = useHash();
  const auth = useAuth();
  const [query, setQuery] = useState('');
  const [state, error, streaming] = useClusterState(auth.key);
  let page;
  if (route.page === 'task' && route.id) page = <TaskDetail master="" id={route.id} />;
  else if (!state) page = <Alert text={error ?? undefined} />;
  else if (route.page === 'agent' && route.id) page = <AgentPage state={state} id={route.id} />;
  else if (route.page === 'framework' && route.id) page = <FrameworkPage state={state} id={route.id} />;
  else page = <Overview state={state} query={query} />;
  return (
    <Shell title="Cluster" nav={[['overview', 'Overview']]} other={null} query={query} setQuery={setQuery} live={streaming} auth={auth}>
      {state && error && <Alert text={error} />}
      {auth.user && auth.wanted !== location.origin && <p class="small">Lists show what the master's ACLs let '{auth.user}' see.</p>}
      {page}
    </Shell>
  );
}

/** Marathon's launch time of a task (`stagedAt`), if the scheduler still lists it. */
function stagedAtOf(data: Services, taskId: string): string | undefined {
  for (const app of data.apps) for (const t of app.tasks ?? []) if (t.id === taskId) return t.stagedAt;
  return undefined;
}

function ServicesApp() {
  const route = useHash();
  const auth = useAuth();
  const [query, setQuery] = useState('');
  const [data, error, streaming] = useServices(auth.key);
  const master = useMemo(() => masterBase(data?.info?.marathon_config?.master, location.hostname, location.protocol), [data?.info]);
  let page;
  if (!data) page = <Alert text={error} />;
  else if (route.page === 'app' && route.id) page = <AppPage data={data} id={route.id} master={master} />;
  else if (route.page === 'pod' && route.id) page = <PodPage data={data} id={route.id} />;
  else if (route.page === 'group' && route.id) page = <AppsPage data={data} query={query} group={route.id} />;
  else if (route.page === 'task' && route.id) page = master ? <TaskDetail master={master} id={route.id} stagedAt={stagedAtOf(data, route.id)} /> : <Alert text="The master's address is unknown" />;
  else if (route.page === 'deployments') page = <DeploymentsPage data={data} />;
  else if (route.page === 'queue') page = <QueuePage data={data} />;
  else page = <AppsPage data={data} query={query} />;
  const other = master ? <a href={`${master}/`}>Cluster</a> : null;
  return (
    <Shell title="Services" nav={[['apps', 'Services'], ['deployments', 'Deployments'], ['queue', 'Queue']]} other={other} query={query} setQuery={setQuery} live={streaming} auth={auth}>
      {data && error && <Alert text={error} />}
      {page}
    </Shell>
  );
}

render(services ? <ServicesApp /> : <ClusterApp />, document.getElementById('root')!);
