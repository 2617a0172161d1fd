// The single-page app: the cluster UI when served by the master at `/`, the services UI
// when served by the scheduler at `/ui/`. Hash routes give every object a deep link.
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import reasons from 'virtual:reasons';
import { ApiError, getJson, send } from './api';
import {
  agentAddress, appDefinition, appStatus, appendChunk, countByState, formatMem, formatTime, href, masterBase,
  parseEditor, parseRoute, RecordIo, withStaging, reasonTooltip, sandboxOf, search, visibleRange, type Tail,
} from './logic';

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

function allTasks(state: any): any[] {
  const out: any[] = [];
  for (const f of state?.frameworks ?? []) out.push(...(f.tasks ?? []), ...(f.completed_tasks ?? []));
  return out;
}

function Overview({ state, query }: { state: any; query: string }) {
  const agents = search(state.slaves ?? [], query, (a: any) => [a.hostname, a.id]);
  const tasks = allTasks(state);
  return (
    <div>
      <section aria-label="Masters">
        <h2>Master</h2>
        <p>Leader: <span data-test="leader">{state.leader ?? '–'}</span> · version {state.version} · cluster {state.cluster ?? '–'}</p>
      </section>
      <section aria-label="Agents">
        <h2>Agents ({state.activated_slaves ?? 0} active, {state.unreachable_slaves ?? 0} unreachable)</h2>
        <table>
          <thead><tr><th>Host</th><th>ID</th><th>State</th><th>CPUs used/total</th><th>Mem used/total</th><th>Disk used/total</th></tr></thead>
          <tbody>
            {agents.map((a: any) => (
              <tr key={a.id} data-test="agent-row">
                <td><a href={href('agent', a.id)}>{a.hostname}</a></td>
                <td class="mono">{a.id}</td>
                <td>{a.active ? 'active' : 'inactive'}</td>
                <td>{a.used_resources?.cpus ?? 0} / {a.resources?.cpus ?? 0}</td>
                <td>{formatMem(a.used_resources?.mem)} / {formatMem(a.resources?.mem)}</td>
                <td>{formatMem(a.used_resources?.disk)} / {formatMem(a.resources?.disk)}</td>
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
        <ul class="counts">{countByState(tasks).map(([s, n]) => <li key={s}><b>{n}</b> {s}</li>)}</ul>
      </section>
      <TaskList tasks={search(tasks, query, (t: any) => [t.id, t.name])} />
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
              <a href={href('task', t.id)} class="mono">{t.id}</a> <span class={`state ${t.state}`}>{t.state}</span>
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

// ---------------------------------------------------------------- Services (scheduler) pages

type Services = { apps: any[]; deployments: any[]; queue: any[]; info: any };

/** Loads the scheduler's objects, and reloads them when `/v2/events` says something changed. */
function useServices(): [Services | undefined, string | undefined, boolean] {
  const [data, setData] = useState<Services | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [streaming, setStreaming] = useState(false);
  useEffect(() => {
    let live = true;
    let pending: number | undefined;
    const load = async () => {
      try {
        const [apps, deployments, queue, info] = await Promise.all([
          getJson('/v2/apps?embed=apps.tasks&embed=apps.deployments&embed=apps.lastTaskFailure'),
          getJson('/v2/deployments'), getJson('/v2/queue'), getJson('/v2/info'),
        ]);
        if (live) { setData({ apps: apps.apps, deployments, queue: queue.queue ?? [], info }); setError(undefined); }
      } catch (e) {
        if (live) setError((e as Error).message);
      }
    };
    const soon = () => { clearTimeout(pending); pending = setTimeout(load, 100) as unknown as number; };
    load();
    // EventSource reconnects on its own after a drop, but gives up (CLOSED) when a reconnect
    // is refused; then we open a new one. While it is down the header says so, and the lists
    // are reloaded when it is back.
    let events: EventSource;
    let retry: number | undefined;
    const connect = () => {
      events = new EventSource('/v2/events');
      events.onopen = () => { setStreaming(true); soon(); };
      events.onerror = () => {
        setStreaming(false);
        if (events.readyState === EventSource.CLOSED && live) retry = setTimeout(connect, 2000) as unknown as number;
      };
      events.onmessage = soon;
      for (const type of ['status_update_event', 'instance_changed_event', 'deployment_info', 'deployment_success',
        'deployment_failed', 'deployment_step_success', 'api_post_event', 'app_terminated_event', 'health_status_changed_event',
        'instance_health_changed_event', 'failed_health_check_event', 'group_change_success']) {
        events.addEventListener(type, soon);
      }
    };
    connect();
    return () => { live = false; events.close(); clearTimeout(pending); clearTimeout(retry); };
  }, []);
  return [data, error, streaming];
}

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
      const app = await send('POST', '/v2/apps', parsed.value);
      setError(undefined);
      setDone(`Created ${app?.id}`);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <section aria-label="Create an app">
      <h2>Create an app</h2>
      <textarea aria-label="App JSON" id="app-json" rows={10} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      <div><button type="button" id="deploy" onClick={deploy}>Deploy</button> <span role="status">{done}</span></div>
      <Alert text={error} />
    </section>
  );
}

function AppsPage({ data, query }: { data: Services; query: string }) {
  const queueOf = (id: string) => data.queue.find((q) => q.app?.id === id);
  const apps = search(data.apps, query, (a) => [a.id, ...(a.tasks ?? []).map((t: any) => t.id), ...(a.tasks ?? []).map((t: any) => t.host)]);
  return (
    <div>
      <section aria-label="Apps">
        <h2>Apps ({apps.length})</h2>
        <AppRows apps={apps} status={(a) => appStatus(a, queueOf(a.id))} />
      </section>
      <Editor />
    </div>
  );
}

/** The apps as a virtualised grid: 10,000 apps cost the DOM only the rows in view. */
function AppRows({ apps, status }: { apps: any[]; status: (app: any) => string }) {
  const [top, setTop] = useState(0);
  const viewport = 480;
  const [first, last] = visibleRange(top, viewport, ROW, apps.length);
  return (
    <div role="table" aria-label="Apps" aria-rowcount={apps.length + 1}>
      <div role="row" class="grow ghead">
        <span role="columnheader">ID</span><span role="columnheader">Status</span><span role="columnheader">Running / wanted</span>
        <span role="columnheader">Healthy</span><span role="columnheader">CPUs</span><span role="columnheader">Mem</span>
      </div>
      <div class="vlist" style={{ height: `${Math.min(viewport, apps.length * ROW + 2)}px` }} onScroll={(e) => setTop((e.target as HTMLElement).scrollTop)}>
        <div style={{ height: `${apps.length * ROW}px`, position: 'relative' }}>
          {apps.slice(first, last).map((a, i) => (
            <div role="row" class="grow vrow" key={a.id} data-test="app-row" data-app={a.id} aria-rowindex={first + i + 2} style={{ top: `${(first + i) * ROW}px` }}>
              <span role="cell"><a href={href('app', a.id)}>{a.id}</a></span>
              <span role="cell" data-test="app-status">{status(a)}</span>
              <span role="cell" data-test="app-count">{a.tasksRunning ?? 0} / {a.instances}</span>
              <span role="cell">{a.tasksHealthy ?? 0}</span>
              <span role="cell">{a.cpus}</span>
              <span role="cell">{formatMem(a.mem)}</span>
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}

function AppPage({ data, id, master }: { data: Services; id: string; master?: string }) {
  const app = data.apps.find((a) => a.id === id);
  const [count, setCount] = useState<string>('');
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
      <p class="mono small">{app.cmd}</p>
      <div class="actions">
        <label>Instances <input type="number" min="0" value={count || app.instances} aria-label="Instances" id="scale-count"
          onInput={(e) => setCount((e.target as HTMLInputElement).value)} /></label>
        <button type="button" id="scale" onClick={() => act('PUT', base, { instances: Number(count || app.instances) })}>Scale</button>
        <button type="button" onClick={() => act('POST', `${base}/restart`)}>Restart</button>
        <button type="button" onClick={() => act('PUT', base, { instances: 0 })}>Suspend</button>
        {confirm
          ? <button type="button" class="danger" onClick={() => { setConfirm(false); act('DELETE', base).then(() => { location.hash = href('apps'); }); }}>Confirm destroy</button>
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
        <thead><tr><th>Task</th><th>State</th><th>Host</th><th>Ports</th><th>Health</th><th></th></tr></thead>
        <tbody>
          {(app.tasks ?? []).map((t: any) => (
            <tr key={t.id} data-test="instance-row">
              <td><a href={href('task', t.id)} class="mono">{t.id}</a></td>
              <td>{t.state}</td>
              <td>{t.host}</td>
              <td>{(t.ports ?? []).map((p: number) => <a key={p} href={`http://${t.host}:${p}/`}>{p} </a>)}</td>
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
    <section aria-label="Edit the app">
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
      {data.queue.map((q) => <div key={q.app?.id}><h3><a href={href('app', q.app?.id)}>{q.app?.id}</a></h3><Waiting entry={q} /></div>)}
    </section>
  );
}

// ---------------------------------------------------------------- Shell

function Shell({ title, nav, other, query, setQuery, live, children }: any) {
  return (
    <div>
      <header>
        <h1>Drover · {title}</h1>
        <nav aria-label="Pages">{nav.map(([page, label]: string[]) => <a key={page} href={href(page)}>{label}</a>)}{other}</nav>
        <input type="search" aria-label="Search" placeholder="Search app, task or host" value={query}
          onInput={(e) => setQuery((e.target as HTMLInputElement).value)} />
        <span class={live ? 'live on' : 'live'} role="status">{live ? 'live' : 'reconnecting…'}</span>
      </header>
      <main>{children}</main>
    </div>
  );
}

/** The master's state, reloaded when the operator API's SUBSCRIBE stream reports a change
 * (tasks, agents, frameworks), not on a timer. Reloads are spaced by twice the time the last
 * one took, so a busy cluster with a large state is not re-read on every event. The stream is
 * reopened on its own when it drops. */
function useClusterState(): [any, string | undefined, boolean] {
  const [state, setState] = useState<any>();
  const [error, setError] = useState<string | undefined>();
  const [streaming, setStreaming] = useState(false);
  useEffect(() => {
    let live = true;
    let timer: number | undefined;
    let loading = false;
    let again = false;
    let spacing = 100;
    const load = async () => {
      if (loading) { again = true; return; }
      loading = true;
      const started = performance.now();
      try {
        const s = await getJson('/master/state');
        if (live) { setState(s); setError(undefined); }
      } catch (e) {
        if (live) setError((e as Error).message);
      }
      spacing = Math.min(5000, Math.max(100, 2 * (performance.now() - started)));
      loading = false;
      if (again && live) { again = false; soon(); }
    };
    const soon = () => { if (timer === undefined) timer = setTimeout(() => { timer = undefined; load(); }, spacing) as unknown as number; };
    let abort = new AbortController();
    const subscribe = async () => {
      abort = new AbortController();
      try {
        const response = await fetch('/api/v1', {
          method: 'POST', signal: abort.signal,
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ type: 'SUBSCRIBE' }),
        });
        if (!response.ok || !response.body) throw new Error(`SUBSCRIBE answered ${response.status}`);
        setStreaming(true);
        load();
        const reader = response.body.getReader();
        const records = new RecordIo();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          for (const record of records.push(value)) {
            const type = JSON.parse(record).type;
            if (type !== 'HEARTBEAT' && type !== 'SUBSCRIBED') soon();
          }
        }
      } catch (e) {
        if (!live) return;
        setError(`The master's event stream dropped (${(e as Error).message}); reconnecting`);
      }
      if (!live) return;
      setStreaming(false);
      setTimeout(subscribe, 2000);
    };
    load();
    subscribe();
    return () => { live = false; abort.abort(); clearTimeout(timer); };
  }, []);
  return [state, error, streaming];
}

function ClusterApp() {
  const route = useHash();
  const [query, setQuery] = useState('');
  const [state, error, streaming] = useClusterState();
  let page;
  if (route.page === 'task' && route.id) page = <TaskDetail master="" id={route.id} />;
  else if (!state) page = <Alert text={error ?? undefined} />;
  else if (route.page === 'agent' && route.id) page = <AgentPage state={state} id={route.id} />;
  else if (route.page === 'framework' && route.id) page = <FrameworkPage state={state} id={route.id} />;
  else page = <Overview state={state} query={query} />;
  return (
    <Shell title="Cluster" nav={[['overview', 'Overview']]} other={null} query={query} setQuery={setQuery} live={streaming}>
      {state && error && <Alert text={error} />}
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
  const [query, setQuery] = useState('');
  const [data, error, streaming] = useServices();
  const master = useMemo(() => masterBase(data?.info?.marathon_config?.master, location.hostname, location.protocol), [data?.info]);
  let page;
  if (!data) page = <Alert text={error} />;
  else if (route.page === 'app' && route.id) page = <AppPage data={data} id={route.id} master={master} />;
  else if (route.page === 'task' && route.id) page = master ? <TaskDetail master={master} id={route.id} stagedAt={stagedAtOf(data, route.id)} /> : <Alert text="The master's address is unknown" />;
  else if (route.page === 'deployments') page = <DeploymentsPage data={data} />;
  else if (route.page === 'queue') page = <QueuePage data={data} />;
  else page = <AppsPage data={data} query={query} />;
  const other = master ? <a href={`${master}/`}>Cluster</a> : null;
  return (
    <Shell title="Services" nav={[['apps', 'Apps'], ['deployments', 'Deployments'], ['queue', 'Queue']]} other={other} query={query} setQuery={setQuery} live={streaming}>
      {data && error && <Alert text={error} />}
      {page}
    </Shell>
  );
}

render(services ? <ServicesApp /> : <ClusterApp />, document.getElementById('root')!);
