// The identity-aware gateway: /api/gateway/:project/* → the project's `upstream`. In order:
// which project, CORS, header hygiene checks, who is calling, the rate limit, then the upstream
// call with identity headers and the signed assertion, streamed both ways. Every refusal is
// JSON `{error, error_description, request_id}`; only 502 and 504 are 5xx.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Context } from 'koa';
import type { Logger } from '../logger.js';
import type { ClientRegistry, RegisteredClient } from '../clients/registry.js';
import type { Callers, Caller } from './caller.js';
import type { AssertionSigner } from './assertion.js';
import type { GatewayLimiter, Verdict } from './rate-limit.js';
import { GatewayMetrics } from './metrics.js';
import { Upstreams, CappedBody } from './upstream.js';
import { checkConnection, IDENTITY_HEADERS, responseHeaders, upstreamHeaders, type Identity } from './headers.js';
import { forwardingOf, addressedTo, type ProxyTrust } from './forwarding.js';
import { corsHeaders, preflightHeaders } from './cors.js';
import { GatewayError, bodyTooLarge, invalidRequest, unknownProject } from './errors.js';
import { loggedPath, recordRequest, type GatewayRecord } from './log.js';
import { parseTarget, type Target } from './target.js';

export interface GatewayOptions {
  issuer: string;
  trust: ProxyTrust;
  timeoutSeconds: number;
  idleTimeoutSeconds: number;
  maxBodyBytes: number;
}

export interface GatewayDeps {
  clients: ClientRegistry;
  callers: Callers;
  assertions: AssertionSigner;
  limiter: GatewayLimiter;
  log: Logger;
}

const REFUSED_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
/** Statuses without a body (as Koa's `statuses.empty`): Koa answers them itself. */
const EMPTY_STATUSES = new Set([204, 205, 304]);
const WS_RESPONSE_HEADERS = new Set(['upgrade', 'connection', 'sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions']);

// Parsed once per loaded project (the registry hands out new objects when clients change).
const upstreamUrls = new WeakMap<RegisteredClient, URL>();
const upstreamOf = (project: RegisteredClient & { upstream: string }) => {
  let url = upstreamUrls.get(project);
  if (!url) upstreamUrls.set(project, (url = new URL(project.upstream)));
  return url;
};

/** Header values must be visible ASCII: anything else (a Unicode email) is percent-encoded. */
const headerSafe = (value: string) => (/^[\x20-\x7e]*$/.test(value) ? value : encodeURI(value));

export class Gateway {
  readonly metrics = new GatewayMetrics();
  readonly upstreams = new Upstreams();
  private readonly issuerOrigin: string;

  constructor(private readonly options: GatewayOptions, private readonly deps: GatewayDeps) {
    this.issuerOrigin = new URL(options.issuer).origin;
  }

  private async project(target: Target): Promise<RegisteredClient & { upstream: string }> {
    const project = target.projectId ? await this.deps.clients.findEnabled(target.projectId) : undefined;
    if (!project?.upstream) throw unknownProject();
    return project as RegisteredClient & { upstream: string };
  }

  private async admit(project: RegisteredClient, headers: IncomingMessage['headers']): Promise<{ caller: Caller; verdict: Verdict | undefined }> {
    const caller = await this.deps.callers.resolve(project, headers.authorization, headers['x-api-key']);
    const buckets = [];
    if (caller.perMinute !== null) buckets.push({ key: `${project.id}:u:${caller.userId}`, perMinute: caller.perMinute });
    if (caller.keyPerMinute !== null) buckets.push({ key: `key:${caller.keyId}`, perMinute: caller.keyPerMinute });
    const verdict = await this.deps.limiter.take(buckets);
    if (verdict && !verdict.allowed) {
      throw new GatewayError(429, 'rate_limited', `more than ${verdict.limit} requests per minute`, { ...rateHeaders(verdict), 'retry-after': String(verdict.retryAfterSeconds) });
    }
    return { caller, verdict };
  }

  private async identity(caller: Caller, project: RegisteredClient, requestId: string): Promise<Identity> {
    return {
      userId: headerSafe(caller.userId),
      email: headerSafe(caller.email),
      project: project.id,
      role: caller.role,
      plan: caller.plan,
      scopes: caller.scopes.join(' '),
      authMethod: caller.authMethod,
      keyId: caller.keyId,
      requestId,
      assertion: await this.deps.assertions.assertionFor(caller, project),
    };
  }

  /** Koa middleware body for a request under /api/gateway/. */
  async handle(ctx: Context): Promise<void> {
    const started = performance.now();
    const requestId = ctx.state.requestId;
    const record: GatewayRecord = { requestId, project: '', method: ctx.method, path: loggedPath(ctx.url), status: 0, bytesIn: 0, bytesOut: 0, ms: 0 };
    const finish = () => {
      record.status = ctx.status;
      record.ms = performance.now() - started;
      recordRequest(this.deps.log, this.metrics, record);
    };
    ctx.state.skipRequestLog = true;
    try {
      const target = parseTarget(ctx.url);
      const project = await this.project(target);
      record.project = project.id;
      const origin = ctx.get('origin') || undefined;
      if (ctx.method === 'OPTIONS' && ctx.get('access-control-request-method')) {
        const preflight = preflightHeaders(project, origin, ctx.get('access-control-request-headers') || undefined);
        if (!preflight) throw new GatewayError(403, 'cors_origin_refused', 'this origin may not call the project from a browser');
        ctx.set(preflight);
        ctx.status = 204;
        finish();
        return;
      }
      ctx.set(corsHeaders(project, origin));
      if (REFUSED_METHODS.has(ctx.method)) throw new GatewayError(405, 'method_not_allowed', `${ctx.method} is not forwarded`);
      const named = checkConnection(ctx.req.headers);
      const { caller, verdict } = await this.admit(project, ctx.req.headers);
      record.user = caller.userId;
      record.authMethod = caller.authMethod;
      if (caller.keyId) record.keyId = caller.keyId;
      if (verdict) ctx.set(rateHeaders(verdict));

      const max = project.gateway?.maxBodyBytes ?? this.options.maxBodyBytes;
      const declared = ctx.req.headers['content-length'];
      if (declared !== undefined && Number(declared) > max) throw bodyTooLarge(max);
      const hasBody = declared !== undefined ? Number(declared) > 0 : ctx.req.headers['transfer-encoding'] !== undefined;
      const body = hasBody ? ctx.req.pipe(new CappedBody(max)) : undefined;
      if (body) ctx.req.once('error', (error) => body.destroy(error));

      const identity = await this.identity(caller, project, requestId);
      const headers = upstreamHeaders(ctx.req.rawHeaders, named, identity, forwardingOf(ctx.req, this.options.trust));
      const asked = performance.now();
      const answer = await this.upstreams.request({
        base: upstreamOf(project), rest: target.rest, method: ctx.method, headers, body,
        timeoutMs: (project.gateway?.timeoutSeconds ?? this.options.timeoutSeconds) * 1000,
        idleTimeoutMs: this.options.idleTimeoutSeconds * 1000, maxBodyBytes: max,
      });
      record.upstreamMs = performance.now() - asked;
      record.bytesIn = body?.bytes ?? 0;
      ctx.status = answer.statusCode;
      ctx.set(responseHeaders(answer.headers) as Record<string, string>);
      // Counted once the body is piped: a 'data' listener added now would start the flow early.
      ctx.res.once('pipe', () => answer.body.on('data', (chunk: Buffer) => { record.bytesOut += chunk.length; }));
      // The upstream failed mid-answer (or the caller left and the body was destroyed): the
      // status is already sent, so the caller's connection is cut rather than the answer ended.
      answer.body.on('error', () => ctx.res.destroy());
      ctx.res.once('close', finish);
      if (ctx.method === 'HEAD' || EMPTY_STATUSES.has(answer.statusCode) || !ctx.writable) {
        // Koa's own answer: it strips or sizes the headers of these.
        ctx.body = answer.body;
        return;
      }
      // The common answer is piped here rather than by Koa, whose stream.pipeline costs an
      // AbortController and a DOMException (with its stack trace) per request. What Koa would
      // do for a stream body: the type defaults to application/octet-stream, and the body is
      // destroyed once the response is finished or the caller has gone.
      if (!ctx.res.hasHeader('content-type')) ctx.type = 'bin';
      ctx.respond = false;
      ctx.res.once('close', () => answer.body.destroy());
      answer.body.pipe(ctx.res);
    } catch (error) {
      if (!(error instanceof GatewayError)) throw error;
      ctx.status = error.status;
      ctx.set(error.headers);
      ctx.body = { error: error.code, error_description: error.message, request_id: requestId };
      record.error = error.code;
      finish();
    }
  }

  /** An HTTP upgrade (WebSocket) under /api/gateway/: authenticated like a request, then spliced. */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, requestId: string): Promise<void> {
    const started = performance.now();
    const record: GatewayRecord = { requestId, project: '', method: 'GET', path: loggedPath(req.url ?? ''), status: 101, bytesIn: 0, bytesOut: 0, ms: 0 };
    socket.on('error', () => socket.destroy());
    try {
      const forwarding = forwardingOf(req, this.options.trust);
      if (!addressedTo(this.issuerOrigin, forwarding)) throw new GatewayError(400, 'invalid_host', `This server answers only at ${this.issuerOrigin}.`);
      if (req.method !== 'GET') throw new GatewayError(405, 'method_not_allowed', 'a WebSocket handshake is a GET');
      if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') throw invalidRequest('only WebSocket upgrades are forwarded');
      const target = parseTarget(req.url ?? '');
      const project = await this.project(target);
      record.project = project.id;
      // Browsers always send Origin on a WebSocket: a page of another site may not ride the
      // user's token (oauth2-proxy#2996).
      const origin = req.headers.origin;
      if (origin !== undefined && !corsHeaders(project, origin)['access-control-allow-origin']) {
        throw new GatewayError(403, 'cors_origin_refused', 'this origin may not open a WebSocket to the project');
      }
      const named = checkConnection(req.headers);
      named.delete('upgrade'); // "Connection: Upgrade" is the handshake itself
      const { caller } = await this.admit(project, req.headers);
      record.user = caller.userId;
      record.authMethod = caller.authMethod;
      if (caller.keyId) record.keyId = caller.keyId;
      const identity = await this.identity(caller, project, requestId);
      // undici writes Connection/Upgrade itself (protocol: 'websocket'); the Sec-WebSocket-* pass through.
      const headers = upstreamHeaders(req.rawHeaders, named, identity, forwarding);
      const asked = performance.now();
      const { headers: answerHeaders, socket: upstream } = await this.upstreams.upgrade({
        base: upstreamOf(project), rest: target.rest, method: 'GET', headers,
        timeoutMs: (project.gateway?.timeoutSeconds ?? this.options.timeoutSeconds) * 1000,
      });
      record.upstreamMs = performance.now() - asked;
      const lines = ['HTTP/1.1 101 Switching Protocols'];
      for (const [name, value] of Object.entries(answerHeaders)) {
        if (!WS_RESPONSE_HEADERS.has(name.toLowerCase()) || value === undefined) continue;
        for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
      }
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
      upstream.on('data', (chunk: Buffer) => { record.bytesOut += chunk.length; });
      socket.on('data', (chunk: Buffer) => { record.bytesIn += chunk.length; });
      upstream.pipe(socket);
      socket.pipe(upstream);
      // The socket lives no longer than the credential that opened it.
      const ttl = Math.min(caller.expiresAt - Date.now(), 2 ** 31 - 1);
      const expiry = setTimeout(() => { socket.destroy(); upstream.destroy(); }, Math.max(0, ttl));
      expiry.unref();
      socket.once('close', () => {
        clearTimeout(expiry);
        upstream.destroy();
        record.ms = performance.now() - started;
        recordRequest(this.deps.log, this.metrics, record);
      });
    } catch (error) {
      const refusal = error instanceof GatewayError ? error : new GatewayError(502, 'upstream_unavailable', 'the project cannot be reached');
      if (!(error instanceof GatewayError)) this.deps.log.warn({ err: (error as Error).message, requestId }, 'gateway upgrade failed');
      const body = JSON.stringify({ error: refusal.code, error_description: refusal.message, request_id: requestId });
      const extra = Object.entries(refusal.headers).map(([n, v]) => `${n}: ${v}\r\n`).join('');
      if (socket.writable) {
        socket.end(`HTTP/1.1 ${refusal.status} ${refusal.code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\n${extra}connection: close\r\n\r\n${body}`);
      }
      record.status = refusal.status;
      record.error = refusal.code;
      record.ms = performance.now() - started;
      recordRequest(this.deps.log, this.metrics, record);
    }
  }

  async close() {
    await this.upstreams.close();
  }
}

function rateHeaders(verdict: Verdict): Record<string, string> {
  return { 'ratelimit-limit': String(verdict.limit), 'ratelimit-remaining': String(verdict.remaining), 'ratelimit-reset': String(verdict.resetSeconds) };
}

export { IDENTITY_HEADERS };
