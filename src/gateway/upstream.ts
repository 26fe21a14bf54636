// The upstream side: one keep-alive undici Pool per upstream origin, request and answer bodies
// streamed (never buffered; an SSE chunk reaches the caller as soon as it arrives), a header
// timeout (504 upstream_timeout), an idle timeout between body chunks, a request-body cap (413)
// counted as the body streams through, and failures to connect mapped to 502
// upstream_unavailable. Nothing of undici's own error text reaches the caller. The answer is
// written into the caller's response by a Relay (relay.ts).
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { bodyTooLarge, GatewayError, upstreamTimeout, upstreamUnavailable } from './errors.js';

const CONNECT_TIMEOUT_MS = 5_000;
const KEEP_ALIVE_MS = 30_000;

class TooLarge extends Error {}

// An upstream base's path without its trailing slashes, worked out once per parsed base URL.
const basePaths = new WeakMap<URL, string>();

/** Passes a request body through, failing once it exceeds `max` bytes. */
export class CappedBody extends Transform {
  bytes = 0;

  constructor(private readonly max: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
    this.bytes += chunk.length;
    if (this.bytes > this.max) done(new TooLarge());
    else done(null, chunk);
  }
}

export interface UpstreamRequest {
  base: URL;
  /** Path and query below the base, starting with / (or empty). */
  rest: string;
  method: string;
  headers: string[];
  body: Readable | undefined;
  timeoutMs: number;
  idleTimeoutMs: number;
}

export class Upstreams {
  private readonly pools = new Map<string, Pool>();

  pool(base: URL): Pool {
    let pool = this.pools.get(base.origin);
    if (!pool) {
      pool = new Pool(base.origin, { connections: 256, keepAliveTimeout: KEEP_ALIVE_MS, connect: { timeout: CONNECT_TIMEOUT_MS } });
      this.pools.set(base.origin, pool);
    }
    return pool;
  }

  static path(base: URL, rest: string) {
    let prefix = basePaths.get(base);
    if (prefix === undefined) basePaths.set(base, (prefix = base.pathname.replace(/\/+$/, '')));
    return `${prefix}${rest}` || '/';
  }

  /** Sends the request; the answer (or the failure, see classify) goes to `handler` (a Relay). */
  dispatch(req: UpstreamRequest, handler: Dispatcher.DispatchHandler) {
    // undici follows no redirects in dispatch: a 3xx is the project's answer to the caller.
    this.pool(req.base).dispatch({
      path: Upstreams.path(req.base, req.rest),
      method: req.method as Dispatcher.HttpMethod,
      headers: req.headers,
      body: req.body ?? null,
      headersTimeout: req.timeoutMs,
      bodyTimeout: req.idleTimeoutMs,
    }, handler);
  }

  async upgrade(req: Omit<UpstreamRequest, 'body' | 'idleTimeoutMs'>): Promise<Dispatcher.UpgradeData> {
    try {
      return await this.pool(req.base).upgrade({
        path: Upstreams.path(req.base, req.rest), method: 'GET', headers: req.headers, protocol: 'websocket',
        // undici's upgrade has no header timeout of its own: the handshake must finish in time.
        signal: AbortSignal.timeout(req.timeoutMs),
      });
    } catch (error) {
      throw classify(error, 0);
    }
  }

  async close() {
    await Promise.all([...this.pools.values()].map((pool) => pool.close().catch(() => undefined)));
    this.pools.clear();
  }
}

/** The gateway's words for an upstream failure: 413 (the body cap), 504 (a timeout) or 502. */
export function classify(error: unknown, maxBodyBytes: number): GatewayError {
  if (error instanceof GatewayError) return error;
  let cause: unknown = error;
  for (let depth = 0; cause && depth < 4; depth++) {
    if (cause instanceof TooLarge) return bodyTooLarge(maxBodyBytes);
    cause = (cause as { cause?: unknown }).cause;
  }
  if (error instanceof undiciErrors.HeadersTimeoutError) return upstreamTimeout();
  const name = (error as { name?: string }).name;
  if (name === 'TimeoutError' || name === 'AbortError') return upstreamTimeout();
  return upstreamUnavailable();
}
