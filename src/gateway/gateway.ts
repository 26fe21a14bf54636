// The identity-aware gateway: /api/gateway/:project/* → the project's `upstream`. In order:
// the issuer-host check, which project, CORS, header hygiene checks, who is calling, the rate
// limit, then the upstream call with identity headers and the signed assertion, streamed both
// ways. Requests are served at the node:http level ahead of Koa (listener.ts); every refusal is
// JSON `{error, error_description, request_id}`; only 502 and 504 are 5xx (and 500 for a fault
// of the hub itself, as on its other routes).
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logger.js';
import type { ClientRegistry, RegisteredClient } from '../clients/registry.js';
import { databaseInputErrorCode } from '../http/database-input-errors.js';
import { requestIdOf } from '../http/request-log.js';
import type { Callers, Caller } from './caller.js';
import type { AssertionSigner } from './assertion.js';
import { pushRateLimitFields, type Bucket, type GatewayLimiter, type Verdict } from './rate-limit.js';
import { GatewayMetrics } from './metrics.js';
import { Upstreams, CappedBody, classify } from './upstream.js';
import { checkConnection, identityPairs, IDENTITY_HEADERS, upstreamHeaders } from './headers.js';
import { forwardingOf, IssuerAddress, type ProxyTrust } from './forwarding.js';
import { corsHeaders, preflightHeaders } from './cors.js';
import { GatewayError, bodyTooLarge, invalidRequest, unknownProject } from './errors.js';
import { loggedPath, recordRequest, type GatewayRecord } from './log.js';
import { parseTarget, type Target } from './target.js';
import { Exchange } from './exchange.js';
import { Relay } from './relay.js';
import { mayEcho, parseOffer } from './subprotocol.js';

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
  /** Sees every request's record once it is final (analytics); must not block or throw. */
  observe?: (record: GatewayRecord) => void;
}

type Project = RegisteredClient & { upstream: string };

const REFUSED_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
const WS_RESPONSE_HEADERS = new Set(['upgrade', 'connection', 'sec-websocket-accept', 'sec-websocket-protocol', 'sec-websocket-extensions']);
const HSTS = 'max-age=31536000; includeSubDomains';

// Parsed once per loaded project (the registry hands out new objects when clients change).
const upstreamUrls = new WeakMap<RegisteredClient, URL>();
const upstreamOf = (project: Project) => {
  let url = upstreamUrls.get(project);
  if (!url) upstreamUrls.set(project, (url = new URL(project.upstream)));
  return url;
};

/** Header values must be visible ASCII: anything else (a Unicode email) is percent-encoded. */
const headerSafe = (value: string) => (/^[\x20-\x7e]*$/.test(value) ? value : encodeURI(value));

// A verified caller is reused for a few seconds: so are its identity headers, per assertion.
const identities = new WeakMap<Caller, { assertion: string; pairs: string[] }>();

function identityOf(caller: Caller, project: RegisteredClient, assertion: string): string[] {
  const known = identities.get(caller);
  if (known?.assertion === assertion) return known.pairs;
  const pairs = identityPairs({
    userId: headerSafe(caller.userId),
    email: headerSafe(caller.email),
    project: project.id,
    role: caller.role,
    plan: caller.plan,
    scopes: caller.scopes.join(' '),
    authMethod: caller.authMethod,
    keyId: caller.keyId,
    assertion,
  });
  identities.set(caller, { assertion, pairs });
  return pairs;
}

function admitted(caller: Caller, verdict: Verdict, headers: string[]): Caller {
  pushRateLimitFields(headers, verdict);
  if (!verdict.allowed) {
    throw new GatewayError(429, 'rate_limited', `more than ${verdict.limit} requests per minute`, { 'Retry-After': String(verdict.retryAfterSeconds) });
  }
  return caller;
}

/** A project with an upstream, or 404 unknown_project. */
function behindGateway(project: RegisteredClient | null | undefined): Project {
  if (!project?.upstream) throw unknownProject();
  return project as Project;
}

function bucketsOf(project: RegisteredClient, caller: Caller): Bucket[] {
  const buckets: Bucket[] = [];
  if (caller.perMinute !== null) buckets.push({ key: `${project.id}:u:${caller.userId}`, perMinute: caller.perMinute });
  if (caller.keyPerMinute !== null) buckets.push({ key: `key:${caller.keyId}`, perMinute: caller.keyPerMinute });
  return buckets;
}

export class Gateway {
  readonly metrics = new GatewayMetrics();
  readonly upstreams = new Upstreams();
  private readonly issuer: IssuerAddress;
  /** What every gateway answer carries besides its request id. */
  private readonly baseHeaders: readonly string[];
  private readonly logRecord = (record: GatewayRecord) => recordRequest(this.deps.log, this.metrics, record, this.deps.observe);

  constructor(private readonly options: GatewayOptions, private readonly deps: GatewayDeps) {
    this.issuer = new IssuerAddress(options.issuer);
    this.baseHeaders = options.issuer.startsWith('https:') ? ['Strict-Transport-Security', HSTS] : [];
  }

  /** The project behind the gateway; at once (no promise) from the registry's fresh cache. */
  private project(target: Target): Project | Promise<Project> {
    if (!target.projectId) throw unknownProject();
    const cached = this.deps.clients.findEnabledNow(target.projectId);
    return cached === undefined ? this.loadProject(target) : behindGateway(cached);
  }

  private async loadProject(target: Target): Promise<Project> {
    return behindGateway(await this.deps.clients.findEnabled(target.projectId!));
  }

  /**
   * Who is calling, and whether the rate limit lets them through. Its RateLimit-* fields go onto
   * `headers`: every answer to an admitted request carries them, a 429 too. At once (no promise)
   * for a cached caller without a limit, the common case of a busy unlimited caller.
   */
  private admit(project: RegisteredClient, authorization: string | undefined, apiKey: IncomingHttpHeaders['x-api-key'], headers: string[]): Caller | Promise<Caller> {
    const resolved = this.deps.callers.resolve(project, authorization, apiKey);
    if (resolved instanceof Promise) return resolved.then((caller) => this.limit(project, caller, headers));
    return this.limit(project, resolved, headers);
  }

  private limit(project: RegisteredClient, caller: Caller, headers: string[]): Caller | Promise<Caller> {
    const taken = this.deps.limiter.take(bucketsOf(project, caller));
    if (taken instanceof Promise) return taken.then((verdict) => admitted(caller, verdict, headers));
    return admitted(caller, taken, headers);
  }

  private assertion(caller: Caller, project: RegisteredClient): string | Promise<string> {
    return this.deps.assertions.assertionFor(caller, project);
  }

  /** A request under /api/gateway (see isGatewayUrl), straight from node:http. */
  serve(req: IncomingMessage, res: ServerResponse): void {
    const exchange = new Exchange(req, res, requestIdOf(req.headers['x-request-id']), this.baseHeaders, this.logRecord);
    this.forward(exchange).catch((error: unknown) => this.fail(exchange, error));
  }

  private async forward(exchange: Exchange): Promise<void> {
    const { req, record } = exchange;
    try {
      const forwarding = forwardingOf(req, this.options.trust);
      this.issuer.check(forwarding);
      const method = req.method ?? 'GET';
      const url = req.url ?? '';
      const target = parseTarget(url);
      const found = this.project(target);
      const project = found instanceof Promise ? await found : found;
      record.project = project.id;
      const { headers } = req;
      if (method === 'OPTIONS' && headers['access-control-request-method']) {
        const preflight = preflightHeaders(project, headers.origin, headers['access-control-request-headers']);
        if (!preflight) throw new GatewayError(403, 'cors_origin_refused', 'this origin may not call the project from a browser');
        exchange.addHeaders(preflight);
        exchange.answerEmpty(204);
        return;
      }
      exchange.addHeaders(corsHeaders(project, headers.origin));
      if (REFUSED_METHODS.has(method)) throw new GatewayError(405, 'method_not_allowed', `${method} is not forwarded`);
      const named = checkConnection(headers);
      const admitting = this.admit(project, headers.authorization, headers['x-api-key'], exchange.headers);
      const caller = admitting instanceof Promise ? await admitting : admitting;
      record.user = caller.userId;
      record.authMethod = caller.authMethod;
      if (caller.keyId) record.keyId = caller.keyId;

      const max = project.gateway?.maxBodyBytes ?? this.options.maxBodyBytes;
      const declared = headers['content-length'];
      if (declared !== undefined && Number(declared) > max) throw bodyTooLarge(max);
      const hasBody = declared !== undefined ? Number(declared) > 0 : headers['transfer-encoding'] !== undefined;
      const body = hasBody ? req.pipe(new CappedBody(max)) : undefined;
      if (body) {
        req.once('error', (error) => body.destroy(error));
        body.once('end', () => { record.bytesIn = body.bytes; });
      }

      const signed = this.assertion(caller, project);
      const identity = identityOf(caller, project, typeof signed === 'string' ? signed : await signed);
      this.upstreams.dispatch({
        base: upstreamOf(project), rest: target.rest, method,
        headers: upstreamHeaders(req.rawHeaders, named, identity, exchange.requestId, forwarding), body,
        timeoutMs: (project.gateway?.timeoutSeconds ?? this.options.timeoutSeconds) * 1000,
        idleTimeoutMs: this.options.idleTimeoutSeconds * 1000,
      }, new Relay(exchange, performance.now(), max));
    } catch (error) {
      if (!(error instanceof GatewayError)) throw error;
      exchange.refuse(error);
    }
  }

  /** A fault of the hub (the database unreachable, ...): answered as its other routes answer it. */
  private fail(exchange: Exchange, error: unknown) {
    const inputError = databaseInputErrorCode(error);
    if (inputError) {
      this.deps.log.info({ event: 'database_input_refused', code: inputError, requestId: exchange.requestId }, 'request refused: input the database cannot store');
      exchange.refuse(invalidRequest('The request contains characters or values that are not accepted.'));
      return;
    }
    this.deps.log.error({ err: error, requestId: exchange.requestId }, 'unhandled error');
    exchange.refuse(new GatewayError(500, 'server_error', 'An unexpected error occurred. Please try again.'));
  }

  /** An HTTP upgrade (WebSocket) under /api/gateway/: authenticated like a request, then spliced. */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, requestId: string): Promise<void> {
    const started = performance.now();
    const record: GatewayRecord = { requestId, project: '', method: 'GET', path: loggedPath(req.url ?? ''), status: 101, bytesIn: 0, bytesOut: 0, ms: 0 };
    const answerHeaders = [`X-Request-Id: ${requestId}`];
    if (this.baseHeaders.length) answerHeaders.push(`${this.baseHeaders[0]}: ${this.baseHeaders[1]}`);
    socket.on('error', () => socket.destroy());
    try {
      const forwarding = forwardingOf(req, this.options.trust);
      this.issuer.check(forwarding);
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
      const offer = parseOffer(req.headers['sec-websocket-protocol']);
      let authorization = req.headers.authorization;
      if (offer.token !== undefined) {
        if (authorization !== undefined || req.headers['x-api-key'] !== undefined) throw invalidRequest('send one credential: Authorization, X-Api-Key or the subprotocol');
        authorization = `Bearer ${offer.token}`;
        // The offer goes on without the token (dropped as a Connection-named header would be).
        named.add('sec-websocket-protocol');
      }
      const rateFields: string[] = [];
      let caller: Caller;
      try {
        caller = await this.admit(project, authorization, req.headers['x-api-key'], rateFields);
      } finally {
        for (let i = 0; i < rateFields.length; i += 2) answerHeaders.push(`${rateFields[i]}: ${rateFields[i + 1]}`);
      }
      record.user = caller.userId;
      record.authMethod = caller.authMethod;
      if (caller.keyId) record.keyId = caller.keyId;
      const identity = identityOf(caller, project, await this.assertion(caller, project));
      // undici writes Connection/Upgrade itself (protocol: 'websocket'); the Sec-WebSocket-* pass through.
      const headers = upstreamHeaders(req.rawHeaders, named, identity, requestId, forwarding);
      if (offer.token !== undefined) headers.push('sec-websocket-protocol', offer.protocols.join(', '));
      const asked = performance.now();
      const { headers: upstreamAnswer, socket: upstream } = await this.upstreams.upgrade({
        base: upstreamOf(project), rest: target.rest, method: 'GET', headers,
        timeoutMs: (project.gateway?.timeoutSeconds ?? this.options.timeoutSeconds) * 1000,
      });
      record.upstreamMs = performance.now() - asked;
      const lines = ['HTTP/1.1 101 Switching Protocols', ...answerHeaders];
      for (const [name, value] of Object.entries(upstreamAnswer)) {
        const lower = name.toLowerCase();
        if (!WS_RESPONSE_HEADERS.has(lower) || value === undefined) continue;
        for (const v of Array.isArray(value) ? value : [value]) if (lower !== 'sec-websocket-protocol' || mayEcho(v)) lines.push(`${name}: ${v}`);
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
        recordRequest(this.deps.log, this.metrics, record, this.deps.observe);
      });
    } catch (error) {
      const refusal = error instanceof GatewayError ? error : new GatewayError(502, 'upstream_unavailable', 'the project cannot be reached');
      if (!(error instanceof GatewayError)) this.deps.log.warn({ err: (error as Error).message, requestId }, 'gateway upgrade failed');
      const body = JSON.stringify({ error: refusal.code, error_description: refusal.message, request_id: requestId });
      const extra = [...answerHeaders, ...Object.entries(refusal.headers).map(([n, v]) => `${n}: ${v}`)].join('\r\n');
      if (socket.writable) {
        socket.end(`HTTP/1.1 ${refusal.status} ${refusal.code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\nconnection: close\r\n\r\n${body}`);
      }
      record.status = refusal.status;
      record.error = refusal.code;
      record.ms = performance.now() - started;
      recordRequest(this.deps.log, this.metrics, record, this.deps.observe);
    }
  }

  /**
   * An automation rule's call (src/events/automation-runner.ts): to the project's upstream as
   * the user, with the identity headers and assertion every gateway request carries
   * (X-Nexus-Auth-Method: automation), logged like one. Not rate limited: the bus paces its own
   * deliveries. The answer is read up to `maxBytes`, all the caller keeps of it. Throws a
   * GatewayError (404 unknown_project, 403 access_denied, 502, 504) like a request would get.
   */
  async callAs(call: AutomationCall): Promise<{ status: number; body: string }> {
    const started = performance.now();
    const record: GatewayRecord = {
      requestId: call.requestId, project: call.projectId, method: call.method, path: loggedPath(call.path), status: 0, bytesIn: 0, bytesOut: 0, ms: 0,
      user: call.userId, authMethod: 'automation',
    };
    try {
      const target = parseTarget(`/api/gateway/${call.projectId}${call.path}`);
      const project = await this.project(target);
      const caller = await this.deps.callers.forUser(project, call.userId);
      // The dashboard's calls count against the user's plan limit like their own requests.
      if (call.rateLimited) await this.limit(project, caller, []);
      const identity = identityOf(caller, project, await this.assertion(caller, project));
      const issuer = new URL(this.options.issuer);
      const extra = Object.entries(call.headers).flat();
      const headers = upstreamHeaders(extra, new Set(), identity, call.requestId, { forwardedFor: '', proto: issuer.protocol.slice(0, -1), host: issuer.host });
      // Set by the hub itself, after the inbound X-Nexus-* were dropped: the rule and its event.
      if (call.rule !== undefined) headers.push('x-nexus-automation', call.rule, 'x-nexus-event-id', call.eventId ?? '');
      // The whole call ends within the caller's bound (the worker's lease must outlive it).
      const timeoutMs = Math.min((project.gateway?.timeoutSeconds ?? this.options.timeoutSeconds) * 1000, call.timeoutMs);
      const chunks: Buffer[] = [];
      let size = 0;
      let answer;
      try {
        answer = await this.upstreams.pool(upstreamOf(project)).request({
          path: Upstreams.path(upstreamOf(project), target.rest), method: call.method, headers, body: call.body ?? null,
          headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(call.timeoutMs),
        });
        // Only the first maxBytes are kept: the rest of a long or endless answer is not waited for.
        for await (const chunk of answer.body) {
          chunks.push(chunk as Buffer);
          size += (chunk as Buffer).length;
          if (size >= call.maxBytes) break;
        }
      } catch (error) {
        throw classify(error, 0);
      } finally {
        answer?.body.destroy();
      }
      record.status = answer.statusCode;
      record.bytesIn = call.body ? Buffer.byteLength(call.body) : 0;
      record.bytesOut = size;
      return { status: answer.statusCode, body: new TextDecoder().decode(Buffer.concat(chunks).subarray(0, call.maxBytes)) };
    } catch (error) {
      const refusal = error instanceof GatewayError ? error : classify(error, 0);
      record.status = refusal.status;
      record.error = refusal.code;
      throw refusal;
    } finally {
      record.ms = performance.now() - started;
      this.logRecord(record);
    }
  }

  async close() {
    await this.upstreams.close();
  }
}

export interface AutomationCall {
  projectId: string;
  userId: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Below the project's upstream base, starting with /. */
  path: string;
  body?: string;
  /** Besides the identity headers (which it cannot set: X-Nexus-* are dropped as from any caller). */
  headers: Record<string, string>;
  /** Sent as X-Nexus-Automation and X-Nexus-Event-Id; absent for the hub's own calls (the dashboard's summaries). */
  rule?: string;
  eventId?: string;
  /** Taken from the user's plan limit for the project (429 rate_limited past it); automations are not. */
  rateLimited?: boolean;
  requestId: string;
  maxBytes: number;
  /** The whole call, answer excerpt included, ends within this. */
  timeoutMs: number;
}

export { IDENTITY_HEADERS };
