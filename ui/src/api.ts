// Fetch helpers: every failure becomes words (the daemon's own message where it sent one).
import { errorText } from './logic';

export class ApiError extends Error {}

export async function getJson(url: string): Promise<any> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { Accept: 'application/json' } });
  } catch {
    throw new ApiError(`Cannot reach ${url}: the daemon is not answering`);
  }
  const text = await response.text();
  if (!response.ok) throw new ApiError(errorText(response.status, text));
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(`${url} answered something that is not JSON`);
  }
}

export async function send(method: string, url: string, body?: unknown): Promise<any> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(`Cannot reach ${url}: the daemon is not answering`);
  }
  const text = await response.text();
  if (!response.ok) throw new ApiError(errorText(response.status, text));
  return text ? JSON.parse(text) : null;
}
