// The UI's pure logic: routes, statuses, counts, formatters, the log-tail buffer and error
// wording. Everything here is free of the DOM so `node --test` checks it directly.

export type Route = { page: string; id?: string };

/** Reads a hash route (`#/apps/%2Fweb`) into a page and an optional object id. */
export function parseRoute(hash: string, services: boolean): Route {
  const path = hash.replace(/^#\/?/, '');
  if (path === '') return { page: services ? 'apps' : 'overview' };
  const slash = path.indexOf('/');
  if (slash < 0) return { page: path };
  return { page: path.slice(0, slash), id: decodeURIComponent(path.slice(slash + 1)) };
}

/** The hash of a page (and object): the inverse of parseRoute. */
export function href(page: string, id?: string): string {
  return id === undefined ? `#/${page}` : `#/${page}/${encodeURIComponent(id)}`;
}

export type AppLike = {
  id: string;
  instances?: number;
  tasksRunning?: number;
  tasksStaged?: number;
  tasksHealthy?: number;
  tasksUnhealthy?: number;
  deployments?: unknown[];
};
export type QueueEntry = { app?: { id: string }; delay?: { overdue?: boolean; timeLeftSeconds?: number } };

/** Marathon's status words for an app, in the order the old UI decided them. */
export function appStatus(app: AppLike, queue: QueueEntry | undefined): string {
  if ((app.deployments?.length ?? 0) > 0) return 'deploying';
  if (queue?.delay && queue.delay.overdue === false && (queue.delay.timeLeftSeconds ?? 0) > 0) return 'delayed';
  if (queue) return 'waiting';
  if ((app.instances ?? 0) === 0 && (app.tasksRunning ?? 0) === 0) return 'suspended';
  return 'running';
}

/** Counts tasks by state (`TASK_RUNNING` → 3, …), sorted by state name. */
export function countByState(tasks: { state: string }[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const t of tasks) counts.set(t.state, (counts.get(t.state) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => a[0].localeCompare(b[0]));
}

/** `1024` MB → `1 GB`; keeps one decimal where it matters. */
export function formatMem(mb: number | undefined): string {
  if (mb === undefined || Number.isNaN(mb)) return '–';
  if (mb >= 1024) return `${trim(mb / 1024)} GB`;
  return `${trim(mb)} MB`;
}

function trim(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** A Mesos timestamp (seconds, fractional) as an ISO time with milliseconds. */
export function formatTime(seconds: number | undefined): string {
  if (seconds === undefined) return '–';
  return new Date(seconds * 1000).toISOString().replace('T', ' ').replace('Z', '');
}

/** The seed's reason identifiers use the v0 spelling (`SLAVE`); v1 answers say `AGENT`. */
export function reasonKey(reason: string): string {
  return reason.replace('_AGENT_', '_SLAVE_');
}

/** The tooltip for a reason: every emission of it in the table, one per line. */
export function reasonTooltip(table: Record<string, string[]>, reason: string | undefined): string | undefined {
  if (!reason) return undefined;
  const lines = table[reasonKey(reason)];
  return lines ? `${reason}: ${lines.join('; ')}` : reason;
}

/** Text an API error answer shows: Marathon's message and each 422 detail (path: errors). */
export function errorText(status: number, body: string): string {
  let parsed: any;
  try {
    parsed = JSON.parse(body);
  } catch {
    return body.trim() ? `${status}: ${body.trim()}` : `HTTP ${status}`;
  }
  const lines: string[] = [];
  if (parsed && typeof parsed.message === 'string') lines.push(parsed.message);
  if (Array.isArray(parsed?.details)) {
    for (const d of parsed.details) {
      const errors = Array.isArray(d?.errors) ? d.errors.join(', ') : String(d?.errors ?? '');
      lines.push(`${d?.path ?? '/'}: ${errors}`);
    }
  }
  return lines.length ? lines.join('\n') : `HTTP ${status}`;
}

/** The editor's JSON, or the parse error in words (the text itself is kept by the caller). */
export function parseEditor(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, error: `Invalid JSON: ${(e as Error).message}` };
  }
}

export type Tail = { offset: number; text: string };

/** Appends a `/files/read` chunk read at `chunk.offset`, keeping at most `max` characters. A
 * chunk that does not start at our offset (the file was truncated or rotated) restarts. */
export function appendChunk(tail: Tail, chunk: { offset: number; data: string }, max: number): Tail {
  const text = chunk.offset === tail.offset ? tail.text + chunk.data : chunk.data;
  const next = chunk.offset + chunk.data.length;
  return { offset: next, text: text.length > max ? text.slice(text.length - max) : text };
}

/** Filters objects whose any named field contains the query (case-insensitive). */
export function search<T>(items: T[], query: string, fields: (item: T) => (string | undefined)[]): T[] {
  const q = query.trim().toLowerCase();
  if (!q) return items;
  return items.filter((item) => fields(item).some((f) => f !== undefined && f.toLowerCase().includes(q)));
}

/** The rows a virtualised list draws: what is in view plus `overscan` each side. */
export function visibleRange(scrollTop: number, viewport: number, rowHeight: number, count: number, overscan = 10): [number, number] {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  return [first, Math.max(first, last)];
}

/** The master's base URL from Marathon's `--master` (`host:port`, `http://…`, or `zk://…`); a
 * bare `host:port` is reached with `protocol` (the page's: a cluster with TLS has it everywhere). */
export function masterBase(master: string | undefined, fallbackHost: string, protocol = 'http:'): string | undefined {
  if (!master) return undefined;
  if (master.startsWith('http://') || master.startsWith('https://')) return master.replace(/\/$/, '');
  if (master.includes('://')) return undefined;
  const hostPort = master.split(',')[0].trim();
  const host = hostPort.startsWith('localhost') || hostPort.startsWith('127.') ? hostPort.replace(/^[^:]+/, fallbackHost) : hostPort;
  return `${protocol}//${host}`;
}

/** An agent's `host:port` from its pid (`slave(1)@10.0.0.1:5051`) or hostname and port. */
export function agentAddress(agent: { pid?: string; hostname?: string; port?: number }): string | undefined {
  const at = agent.pid?.split('@')[1];
  if (at) return at;
  return agent.hostname && agent.port ? `${agent.hostname}:${agent.port}` : undefined;
}

/** The sandbox directory of a task in an agent's `/state`, if the agent still has it. */
export function sandboxOf(state: any, frameworkId: string, taskId: string): string | undefined {
  for (const f of state?.frameworks ?? []) {
    if (f.id !== frameworkId) continue;
    for (const e of [...(f.executors ?? []), ...(f.completed_executors ?? [])]) {
      const all = [...(e.tasks ?? []), ...(e.queued_tasks ?? []), ...(e.completed_tasks ?? [])];
      if (all.some((t: any) => t.id === taskId) || e.id === taskId) return e.directory;
    }
  }
  return undefined;
}

export type HistoryEntry = { state: string; timestamp?: number; source?: string; reason?: string; message?: string };

/** The master records the updates a task received; a task begins in TASK_STAGING without
 * one. When the scheduler knows the launch time (Marathon's `stagedAt`), the timeline starts
 * there, marked as the scheduler's launch rather than as an update. */
export function withStaging(history: HistoryEntry[], stagedAt: string | undefined): HistoryEntry[] {
  if (!stagedAt || history[0]?.state === 'TASK_STAGING') return history;
  const ms = Date.parse(stagedAt);
  if (Number.isNaN(ms)) return history;
  return [{ state: 'TASK_STAGING', timestamp: ms / 1000, message: 'launched by the scheduler' }, ...history];
}

/** Splits a RecordIO byte stream (`<length>\n<record>`, Mesos' streaming format) into records
 * as they complete. Lengths count bytes, so it works on bytes, not text. A record longer than
 * `max` bytes, or a malformed length, is an error: the caller drops the stream. */
export class RecordIo {
  private buf = new Uint8Array(0);
  private decoder = new TextDecoder();
  constructor(private max = 64 * 1024 * 1024) {}

  push(chunk: Uint8Array): string[] {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    const out: string[] = [];
    let at = 0;
    for (;;) {
      const nl = joined.indexOf(10, at);
      if (nl < 0) {
        if (joined.length - at > 20) throw new Error('RecordIO: a length line longer than 20 bytes');
        break;
      }
      const digits = this.decoder.decode(joined.subarray(at, nl));
      if (!/^\d+$/.test(digits)) throw new Error(`RecordIO: bad length ${JSON.stringify(digits)}`);
      const length = Number(digits);
      if (length > this.max) throw new Error(`RecordIO: a record of ${length} bytes is over the limit`);
      if (joined.length < nl + 1 + length) break;
      out.push(this.decoder.decode(joined.subarray(nl + 1, nl + 1 + length)));
      at = nl + 1 + length;
    }
    this.buf = joined.slice(at);
    return out;
  }
}

/** The fields of an app (as `GET /v2/apps/{id}` shows it) that describe its state, not its
 * definition: Marathon refuses or ignores them in a PUT, so the editor leaves them out. */
const APP_STATUS_FIELDS = ['version', 'versionInfo', 'tasks', 'tasksRunning', 'tasksStaged', 'tasksHealthy',
  'tasksUnhealthy', 'deployments', 'lastTaskFailure', 'readinessCheckResults', 'taskStats', 'counts'];

/** An app's definition for the editor: everything but its status fields. */
export function appDefinition(app: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(app)) if (!APP_STATUS_FIELDS.includes(k)) out[k] = v;
  return out;
}

/** A 403 in words: who was refused what, and that the daemon's ACLs decided it (a read may
 * also come back filtered, which the pages say where they show a list). */
export function forbiddenText(user: string | undefined, url: string, body: string): string {
  const path = url.replace(/^[a-z]+:\/\/[^/]+/, '').split('?')[0];
  const who = user ? `'${user}'` : 'an anonymous user';
  const detail = body.trim() ? `: ${errorText(403, body)}` : '';
  return `Forbidden: the daemon's ACLs do not let ${who} do this (${path})${detail}`;
}

/** Where the editor sends a new definition: a pod (it has `containers`) to `/v2/pods`, an
 * app to `/v2/apps`. */
export function createPath(definition: unknown): string {
  return definition && typeof definition === 'object' && Array.isArray((definition as any).containers) ? '/v2/pods' : '/v2/apps';
}

/** A pod's definition scaled to `instances`, for `PUT /v2/pods/{id}` (which takes the whole
 * definition). */
export function scaledPod(spec: Record<string, any>, instances: number): Record<string, any> {
  return { ...spec, scaling: { ...(spec.scaling ?? { kind: 'fixed' }), instances } };
}
