// This instance's delivery worker runs in a worker thread (delivery-thread-entry.ts): claiming,
// signing, the webhook POST and recording its outcome cost ~0.3 ms of CPU per event, which on
// the main thread came out of token issuance and every other request (the hub's main thread is
// what limits its throughput). The thread has its own pg pool and SecretBox; the main thread
// wakes it through shared memory (an atomic counter: no message, no serialisation per event),
// answers its automation-rule calls (the gateway lives here) and disables endpoints for it
// (endpoint.disabled is published by the bus's libraries here).
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../logger.js';
import type { StoredEvent } from './event.js';
import { DELIVERY_OUTCOMES, type DeliveryOutcome, type RuleRunner, type WorkerOptions } from './worker.js';

/** What a thread is started with. */
export interface ThreadData {
  databaseUrl: string;
  /** The master key (32 bytes), for the thread's own SecretBox. */
  masterKey: Uint8Array;
  allowPrivateUrls: boolean;
  options: WorkerOptions;
  /** Whether the main thread runs automation rules. */
  rules: boolean;
  /** Counts wakes: incremented by the main thread, watched by the thread. */
  wakes: Int32Array;
  /** Webhook attempts by outcome (DELIVERY_OUTCOMES' order), counted by the thread, read by /metrics. */
  outcomes: Int32Array;
}

/** What the thread asks of the main thread (answered by an `answer` of the same call). */
export type Request =
  | { type: 'disable'; id: string; reason: string }
  | { type: 'rule'; rule: string; event: StoredEvent; deliveryId: string };
export type ToMain = (Request & { call: number }) | { type: 'log'; fields: object; message: string } | { type: 'stopped' };
/** A failed call's error as the thread rebuilds it (the worker describes errors by code and name). */
export interface ThrownError { message: string; code?: string; name?: string }
export type ToThread = { type: 'answer'; call: number; value?: unknown; error?: ThrownError } | { type: 'stop' };

// The compiled hub starts dist/events/delivery-thread-entry.js. Run from source (tsx, vitest)
// the entry is a .ts file: the thread loads it through tsx's require hook (as the password
// pool's threads do; Node 20 does not apply --import hooks to a worker's own entry).
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const ENTRY = new URL(`./delivery-thread-entry.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url);
const SOURCE_LOADER = FROM_SOURCE
  ? `require(${JSON.stringify(createRequire(import.meta.url).resolve('tsx/cjs'))}); require(${JSON.stringify(fileURLToPath(ENTRY))});`
  : undefined;
/** A thread that died is started again after this long (its claims lapse and are made again). */
const RESTART_MS = 1_000;
/** Until the thread runs, the main thread looks this often for deliveries due (as the worker polls). */
const WATCH_MS = 1_000;

export interface DeliveryThreadDeps {
  log: Logger;
  disableEndpoint: (id: string, reason: string) => Promise<void>;
  /** Whether a delivery is due and unclaimed (made by another instance, a lapsed claim, a retry). */
  anyDue: () => Promise<boolean>;
}

export class DeliveryThread {
  private readonly wakes = new Int32Array(new SharedArrayBuffer(4));
  // Kept here, not in the thread: the counts survive a thread's restart.
  private readonly outcomes = new Int32Array(new SharedArrayBuffer(4 * DELIVERY_OUTCOMES.length));
  private thread: Worker | undefined;
  private stopping = false;
  private stopped: (() => void) | undefined;
  private runRules: RuleRunner | undefined;
  private watch: NodeJS.Timeout | undefined;
  private readonly look = () => this.deps.anyDue().then((due) => { if (due) this.spawn(); }, () => {});

  constructor(private readonly deps: DeliveryThreadDeps, private readonly data: Omit<ThreadData, 'wakes' | 'outcomes' | 'rules'>) {}

  /**
   * The thread itself starts once a delivery is found due — looked for at once, at every wake
   * and every WATCH_MS — and then runs until stop(): a thread is ~15 MB of memory that a hub
   * without webhooks or automation rules never needs (the change listener wakes the bus at
   * every connection, "anything may have changed", which alone must not start it).
   */
  start(runRules?: RuleRunner) {
    if (this.watch || this.thread || this.stopping) return;
    this.runRules = runRules;
    this.watch = setInterval(this.look, WATCH_MS).unref();
    void this.look();
  }

  private spawn() {
    if (this.thread || this.stopping) return;
    clearInterval(this.watch);
    const workerData: ThreadData = { ...this.data, rules: Boolean(this.runRules), wakes: this.wakes, outcomes: this.outcomes };
    // Explicit execArgv: a thread never inherits the hub's own flags (profilers, preloaded probes).
    const thread = SOURCE_LOADER
      ? new Worker(SOURCE_LOADER, { eval: true, workerData, execArgv: [] })
      : new Worker(ENTRY, { workerData, execArgv: [] });
    this.thread = thread;
    // It alone never keeps a process running (the HTTP server does); stop() holds it while it ends.
    thread.unref();
    thread.on('message', (message: ToMain) => this.handle(thread, message));
    thread.on('error', (error) => this.deps.log.error({ err: error }, 'the delivery thread failed'));
    thread.on('exit', () => {
      this.thread = undefined;
      if (this.stopping) return this.stopped?.();
      this.deps.log.error('the delivery thread exited; starting it again');
      setTimeout(() => this.spawn(), RESTART_MS).unref();
    });
  }

  /** Something was queued: the thread claims now rather than at its next poll. */
  wake() {
    Atomics.add(this.wakes, 0, 1);
    Atomics.notify(this.wakes, 0);
    if (this.watch && !this.thread) void this.look();
  }

  /** Webhook attempts by outcome since this hub started. */
  outcomeCounts(): Record<DeliveryOutcome, number> {
    return Object.fromEntries(DELIVERY_OUTCOMES.map((outcome, i) => [outcome, Atomics.load(this.outcomes, i)])) as Record<DeliveryOutcome, number>;
  }

  /** Deliveries in flight finish and are recorded, then the thread ends. */
  async stop() {
    this.stopping = true;
    clearInterval(this.watch);
    const thread = this.thread;
    if (!thread) return;
    thread.ref();
    const ended = new Promise<void>((resolve) => { this.stopped = resolve; });
    thread.postMessage({ type: 'stop' } satisfies ToThread);
    this.wake();
    await ended;
  }

  private handle(thread: Worker, message: ToMain) {
    if (message.type === 'log') return this.deps.log.warn(message.fields, message.message);
    // Its connections are closed: nothing is left to wait for.
    if (message.type === 'stopped') return void thread.terminate();
    const answer = (value: unknown) => thread.postMessage({ type: 'answer', call: message.call, value } satisfies ToThread);
    const fail = (error: unknown) => {
      const { message: text, code, name } = error as { message?: string; code?: string; name?: string };
      thread.postMessage({ type: 'answer', call: message.call, error: { message: text ?? String(error), code, name } } satisfies ToThread);
    };
    if (message.type === 'disable') this.deps.disableEndpoint(message.id, message.reason).then(answer, fail);
    else if (this.runRules) this.runRules(message.rule, message.event, message.deliveryId).then(answer, fail);
    else fail(new Error('this hub runs no automation rules'));
  }
}
