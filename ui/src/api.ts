// Fetch helpers: every failure becomes words (the daemon's own message where it sent one),
// and the session's credentials go with every request to the page's own daemon.
import { errorText, forbiddenText } from './logic';

export class ApiError extends Error {}
/** A 401: the daemon wants credentials (or refused the ones given). */
export class AuthError extends ApiError {}

const KEY = 'drover-credentials';

export type Credentials = { user: string; password: string };

/** The session's credentials. sessionStorage is per origin and per tab, so the master's
 * and the scheduler's pages keep their own, and closing the tab forgets them. */
export function credentials(): Credentials | undefined {
  try {
    const v = JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
    return v && typeof v.user === 'string' && typeof v.password === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

export function setCredentials(c: Credentials | undefined) {
  if (c) sessionStorage.setItem(KEY, JSON.stringify(c));
  else sessionStorage.removeItem(KEY);
  for (const l of listeners) l();
}

/** Told when a daemon answers 401, so the shell shows the sign-in form. */
const listeners = new Set<() => void>();
let wanted = false;
export function onAuthChange(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}
export function authWanted(): boolean {
  return wanted;
}
export function setAuthWanted(v: boolean) {
  if (wanted === v) return;
  wanted = v;
  for (const l of listeners) l();
}

function sameOrigin(url: string): boolean {
  return new URL(url, location.href).origin === location.origin;
}

/** `Authorization: Basic` for the page's own daemon. Never across origins: the master and
 * the agents grant other origins anonymous reads only (a header would need a preflight they
 * refuse), and credentials belong to the daemon they were typed for. */
export function authHeaders(url: string): Record<string, string> {
  const c = credentials();
  if (!c || !sameOrigin(url)) return {};
  const bytes = new TextEncoder().encode(`${c.user}:${c.password}`);
  return { Authorization: `Basic ${btoa(String.fromCharCode(...bytes))}` };
}

/** The URL resolved against the page, less any `user:password@`: a page opened from such a
 * URL resolves relative URLs to ones carrying it, and fetch refuses those outright. */
function withoutUserinfo(url: string): string {
  const u = new URL(url, location.href);
  u.username = '';
  u.password = '';
  return u.href;
}

/** fetch with the session's credentials. `credentials: 'omit'` keeps the browser from using
 * (or prompting for) its own HTTP authentication: the page asks in its form instead. */
export async function request(url: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(withoutUserinfo(url), { ...init, credentials: 'omit', headers: { ...(init.headers as Record<string, string>), ...authHeaders(url) } });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`Cannot reach ${url}: the daemon is not answering`);
  }
  if (response.status === 401) {
    const text = await response.text().catch(() => '');
    if (sameOrigin(url)) {
      setAuthWanted(true);
      const c = credentials();
      throw new AuthError(c ? `The daemon refused the credentials of '${c.user}': sign in again` : 'This daemon needs a user and password: sign in');
    }
    throw new AuthError(`${new URL(url, location.href).origin} needs credentials, which this page cannot send to another daemon: open that daemon's own UI and sign in there${text ? ` (${text.trim()})` : ''}`);
  }
  if (response.status === 403) {
    throw new ApiError(forbiddenText(credentials()?.user, url, await response.text().catch(() => '')));
  }
  return response;
}

export async function getJson(url: string, signal?: AbortSignal): Promise<any> {
  const response = await request(url, { headers: { Accept: 'application/json' }, signal });
  const text = await response.text();
  if (!response.ok) throw new ApiError(errorText(response.status, text));
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(`${url} answered something that is not JSON`);
  }
}

export async function send(method: string, url: string, body?: unknown): Promise<any> {
  const response = await request(url, {
    method,
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new ApiError(errorText(response.status, text));
  return text ? JSON.parse(text) : null;
}
