// The upstream's answer, written straight into the caller's response by undici's dispatch
// handler: no intermediate Readable, no pipe, no per-request stream.pipeline. The body flows
// chunk by chunk (an SSE event reaches the caller as it arrives), with backpressure both ways;
// the upstream request is aborted when the caller leaves. A failure before the answer began is a
// JSON refusal (502, 504, 413); after it, the caller's connection is cut.
import type { Dispatcher } from 'undici';
import type { Exchange } from './exchange.js';
import { classify } from './upstream.js';
import { pushResponseHeaders } from './headers.js';
import { upstreamUnavailable } from './errors.js';

/** Statuses without a body (as Koa's `statuses.empty`). */
const BODYLESS = new Set([204, 205, 304]);

export class Relay implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private ended = false;
  private resume: (() => void) | undefined; // made at the first backpressure, rare for small answers

  constructor(private readonly exchange: Exchange, private readonly asked: number, private readonly maxBodyBytes: number) {
    exchange.onCallerGone = () => {
      if (!this.ended) this.controller?.abort(new Error('the caller left'));
    };
  }

  onRequestStart(controller: Dispatcher.DispatchController) {
    this.controller = controller;
    if (this.exchange.res.destroyed) controller.abort(new Error('the caller left'));
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>) {
    const { exchange } = this;
    const { res, record } = exchange;
    record.upstreamMs = performance.now() - this.asked;
    const own = exchange.headers.length;
    const bodyless = BODYLESS.has(statusCode);
    // A body without a type is announced as bytes (browsers must not sniff it), as Koa did.
    if (!pushResponseHeaders(exchange.headers, headers, bodyless) && !bodyless) exchange.headers.push('Content-Type', 'application/octet-stream');
    try {
      res.writeHead(statusCode, exchange.headers);
    } catch {
      // A header value node:http will not send: the project's answer is not usable.
      exchange.headers.length = own;
      this.ended = true;
      controller.abort(new Error('unusable answer headers'));
      exchange.refuse(upstreamUnavailable());
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer) {
    this.exchange.record.bytesOut += chunk.length;
    if (!this.exchange.res.write(chunk)) {
      controller.pause();
      this.exchange.res.once('drain', (this.resume ??= () => this.controller?.resume()));
    }
  }

  onResponseEnd() {
    this.ended = true;
    this.exchange.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error) {
    if (this.ended) return;
    this.ended = true;
    this.exchange.refuse(classify(error, this.maxBodyBytes));
  }
}
