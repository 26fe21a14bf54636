// Small helpers for calling the hub's token endpoints as a project would.
import type { TestHub } from './hub.js';

export function basicAuth(clientId: string, secret: string) {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** POSTs a form to a hub endpoint, authenticating as the client (Basic, or client_id for public clients). */
export async function postForm(t: TestHub, path: string, clientId: string | undefined, form: Record<string, string>) {
  const body = new URLSearchParams(form);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (clientId && t.secrets[clientId]) headers.authorization = basicAuth(clientId, t.secrets[clientId]);
  else if (clientId) body.set('client_id', clientId);
  const response = await fetch(`${t.url}${path}`, { method: 'POST', headers, body });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: callers assert on status
  }
  return { status: response.status, body: json as Record<string, string>, text, headers: response.headers };
}
