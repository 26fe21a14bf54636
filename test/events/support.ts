// What the bus tests share: webhook receivers on loopback that verify every delivery with the
// independent standardwebhooks library, project tokens, and JSON calls to the project API.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { closeServer } from '../support/process.js';

export const ALL_BUS_SCOPES = 'events:write events:read webhooks:manage';

export interface Received {
  id: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** How a receiver answers its nth request (from 1): the default takes every delivery with 204. */
export type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

export class Receiver {
  readonly requests: Received[] = [];
  private readonly open = new Set<http.ServerResponse>();

  private constructor(private readonly server: http.Server, readonly url: string) {}

  static async start(behaviour: Behaviour = (_req, res) => res.writeHead(204).end(), path = '/hook'): Promise<Receiver> {
    let receiver: Receiver;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        receiver.requests.push({ id: String(req.headers['webhook-id']), headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
        receiver.open.add(res);
        res.on('close', () => receiver.open.delete(res));
        behaviour(req, res, receiver.requests.length);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiver = new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`);
    return receiver;
  }

  get port() {
    return new URL(this.url).port;
  }

  /** The webhook-ids received, in arrival order (repeats included). */
  ids(): string[] {
    return this.requests.map((r) => r.id);
  }

  /** Each request verified with `secret` (throws on any bad signature), as the parsed event. */
  verified(secret: string): Array<Record<string, unknown>> {
    return this.requests.map((r) => new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as Record<string, unknown>);
  }

  async waitFor(count: number, timeoutMs = 15_000) {
    await eventually(() => expect(this.requests.length).toBeGreaterThanOrEqual(count), timeoutMs);
  }

  async close() {
    for (const res of this.open) res.destroy();
    await closeServer(this.server);
  }
}

/** Retries `check` until it passes or the time is up (then its last failure is thrown). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A client-credentials access token of a project, for its own API. */
export async function projectToken(hubUrl: string, clientId: string, secret: string, scope = ALL_BUS_SCOPES): Promise<string> {
  const res = await fetch(`${hubUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });
  const body = await res.json() as { access_token: string };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.access_token;
}

/** A call to the hub with a bearer token and a JSON body; answers status, headers and parsed JSON. */
export async function call(hubUrl: string, token: string | undefined, method: string, path: string, json?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${hubUrl}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(json === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: json === undefined ? undefined : typeof json === 'string' ? json : JSON.stringify(json),
  });
  const text = await res.text();
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body };
}

export interface EndpointCreated {
  endpoint: { id: string; project: string | null; url: string };
  secret: string;
}

/** Creates an endpoint through the project API. */
export async function addEndpoint(hubUrl: string, token: string, url: string, events: string[] | string): Promise<EndpointCreated> {
  const answer = await call(hubUrl, token, 'POST', '/api/webhooks/endpoints', { url, events });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return answer.body as EndpointCreated;
}

/** Posts events as a project; answers the stored ids. */
export async function emit(hubUrl: string, token: string, events: unknown) {
  const answer = await call(hubUrl, token, 'POST', '/api/events', events);
  expect([200, 202], JSON.stringify(answer.body)).toContain(answer.status);
  return answer.body.events as Array<{ id: string; key: string | null; sequence: number; duplicate: boolean }>;
}

export { together } from '../support/together.js';
