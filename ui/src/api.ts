// Fetch helpers: every failure becomes words (the daemon's own message where it sent one),
// and the session's credentials go with every request to the daemon they were typed for.
import { errorText, forbiddenText } from './logic';

export class ApiError extends Error {}
/** A 401: the daemon wants credentials (or refused the ones given). */
export class AuthError extends ApiError {}

const KEY = 'drover-credentials';

export type Credentials = { user: string; password: string };

/** The origin a URL points at (the page's own for a relative one). */
export function originOf(url: string): string {
  return new URL(url, location.href).origin;
}

/** Where an origin's credentials are kept: the page's own daemon's under one key, another
 * daemon's (the master or an agent, read across origins) under a key naming its origin. */
function keyOf(origin: string): string {
  return origin === location.origin ? KEY : `${KEY}@${origin}`;
}

/** The credentials typed for an origin (the page's own by default). sessionStorage is per
 * origin and per tab, so the master's and the scheduler's pages keep their own, and closing
 * the tab forgets them. */
export function credentials(origin: string = location.origin): Credentials | undefined {
  try {
    const v = JSON.parse(sessionStorage.getItem(keyOf(origin)) ?? 'null');
    return v && typeof v.user === 'string' && typeof v.password === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

export function setCredentials(c: Credentials | undefined, origin: string = location.origin) {
  if (c) sessionStorage.setItem(keyOf(origin), JSON.stringify(c));
  else sessionStorage.removeItem(keyOf(origin));
  for (const l of listeners) l();
}

/** Signing out forgets every daemon's credentials in this tab. */
export function forgetCredentials() {
  for (const k of Object.keys(sessionStorage)) if (k === KEY || k.startsWith(`${KEY}@`)) sessionStorage.removeItem(k);
  for (const l of listeners) l();
}

/** Told when a daemon answers 401, so the shell shows the sign-in form for its origin. */
const listeners = new Set<() => void>();
let wanted: string | undefined;
export function onAuthChange(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}
/** The origin that last asked for credentials and has not been given them, if any. */
export function authWanted(): string | undefined {
  return wanted;
}
export function setAuthWanted(origin: string | undefined) {
  if (wanted === origin) return;
  wanted = origin;
  for (const l of listeners) l();
}

/** `Authorization: Basic` with the credentials typed for the URL's own origin, if any:
 * credentials go only to the daemon they were typed for. (The master and the agents grant
 * the preflight such a read needs across origins, and no other.) */
export function authHeaders(url: string): Record<string, string> {
  const c = credentials(originOf(url));
  if (!c) return {};
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
    const origin = originOf(url);
    setAuthWanted(origin);
    const c = credentials(origin);
    if (origin === location.origin) {
      throw new AuthError(c ? `The daemon refused the credentials of '${c.user}': sign in again` : 'This daemon needs a user and password: sign in');
    }
    throw new AuthError(c ? `${origin} refused the credentials of '${c.user}': sign in for it again` : `${origin} needs a user and password to show this: sign in for it`);
  }
  if (response.status === 403) {
    throw new ApiError(forbiddenText(credentials(originOf(url))?.user, url, await response.text().catch(() => '')));
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
