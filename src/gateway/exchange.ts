// One gateway request at the node:http level (the gateway answers ahead of Koa): its id, the
// headers every answer carries (X-Request-Id, HSTS, then the CORS and rate-limit fields as they
// are known), the JSON refusals, and the one log line once the answer is done or the caller left.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayError } from './errors.js';
import { loggedPath, type GatewayRecord } from './log.js';

/** Logged for a caller that left before any answer was sent (nginx's "client closed request"). */
const CALLER_LEFT = 499;

export class Exchange {
  readonly started = performance.now();
  readonly record: GatewayRecord;
  /** Name, value, ...: what every answer to this request carries. */
  readonly headers: string[];
  /** Set while the upstream is asked: stops it when the caller leaves first. */
  onCallerGone: (() => void) | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly requestId: string,
    baseHeaders: readonly string[],
    private readonly done: (record: GatewayRecord) => void,
  ) {
    this.record = { requestId, project: '', method: req.method ?? 'GET', path: loggedPath(req.url ?? ''), status: 0, bytesIn: 0, bytesOut: 0, ms: 0 };
    this.headers = ['X-Request-Id', requestId, ...baseHeaders];
    res.once('close', () => this.closed());
  }

  /** Adds a record of header fields (CORS) to every answer. */
  addHeaders(fields: Record<string, string>) {
    for (const name in fields) this.headers.push(name, fields[name]);
  }

  /** An answer of the gateway's own without a body (a preflight). */
  answerEmpty(status: number) {
    this.res.writeHead(status, this.headers);
    this.res.end();
  }

  /** `{error, error_description, request_id}`; the caller's connection is cut if an answer has begun. */
  refuse(error: GatewayError) {
    const { res } = this;
    this.record.error = error.code;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const body = JSON.stringify({ error: error.code, error_description: error.message, request_id: this.requestId });
    this.addHeaders(error.headers);
    this.headers.push('Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body)));
    res.writeHead(error.status, this.headers);
    res.end(body);
  }

  private closed() {
    this.onCallerGone?.();
    this.record.status = this.res.headersSent ? this.res.statusCode : CALLER_LEFT;
    this.record.ms = performance.now() - this.started;
    this.done(this.record);
  }
}
