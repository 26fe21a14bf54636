// Inside the delivery thread (started by delivery-thread.ts): this instance's DeliveryWorker on
// a pg pool, SecretBox and SSRF-guarded dispatcher of its own. What only the main thread has is
// asked of it by message: an endpoint to disable (it emits endpoint.disabled through the bus),
// an automation rule's call (it goes through the gateway) and the rare warning to log.
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { SecretBox } from '../secrets/box.js';
import { DELIVERY_OUTCOMES, DeliveryWorker } from './worker.js';
import { webhookDispatcher } from './ssrf.js';
import type { Request, ThreadData, ToMain, ToThread } from './delivery-thread.js';

const data = workerData as ThreadData;
const port = parentPort!;
/** A claim and a batch of outcomes being recorded: at most two statements at a time. */
const POOL_SIZE = 2;

const pool = new pg.Pool({ connectionString: data.databaseUrl, max: POOL_SIZE });
const tell = (message: ToMain) => port.postMessage(message);
const log = { warn: (fields: object, message: string) => tell({ type: 'log', fields, message }) };
pool.on('error', (error) => log.warn({ err: error.message }, 'idle database connection of the delivery thread lost'));

const answers = new Map<number, { resolve: (value: never) => void; reject: (error: Error) => void }>();
let calls = 0;
function ask<T>(request: Request): Promise<T> {
  const call = ++calls;
  return new Promise<T>((resolve, reject) => {
    answers.set(call, { resolve: resolve as (value: never) => void, reject });
    tell({ ...request, call });
  });
}

// Atomics.waitAsync is in Node 16+ but not in TypeScript's ES2022 library.
type WaitAsync = (array: Int32Array, index: number, value: number) => { async: false; value: string } | { async: true; value: Promise<string> };

/** Resolves with the counter's value once it differs from `seen` (at once if it already does). */
async function waitForChange(counter: Int32Array, seen: number): Promise<number> {
  const wait = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync(counter, 0, seen);
  if (wait.async) await wait.value;
  return Atomics.load(counter, 0);
}

const dispatcher = webhookDispatcher(data.allowPrivateUrls, 5_000);
const worker = new DeliveryWorker({
  pool, box: new SecretBox(Buffer.from(data.masterKey)), dispatcher, log,
  disableEndpoint: (id, reason) => ask<void>({ type: 'disable', id, reason }),
  onOutcome: (outcome) => Atomics.add(data.outcomes, DELIVERY_OUTCOMES.indexOf(outcome), 1),
}, data.options);
worker.start(data.rules ? (rule, event, deliveryId) => ask({ type: 'rule', rule, event, deliveryId }) : undefined);

let stopping = false;
// The main thread counts what it queues in shared memory (no message per event): a change
// wakes the worker, which claims what was committed before it. The counter is watched only
// while the worker waits for news; a change during its claims and deliveries is found at once
// when it next waits (at worst one claim that finds nothing new).
void (async () => {
  let seen = Atomics.load(data.wakes, 0);
  while (!stopping) {
    await worker.asleep();
    if (stopping) break;
    seen = await waitForChange(data.wakes, seen);
    worker.wake();
  }
})();

port.on('message', (message: ToThread) => {
  if (message.type === 'answer') {
    const waiting = answers.get(message.call);
    answers.delete(message.call);
    if (message.error === undefined) return waiting?.resolve(message.value as never);
    waiting?.reject(Object.assign(new Error(message.error.message), { code: message.error.code, name: message.error.name ?? 'Error' }));
    return;
  }
  // stop: deliveries in flight finish and are recorded (worker.stop), then the connections close.
  stopping = true;
  void worker.stop()
    .then(() => dispatcher.close())
    .then(() => pool.end())
    .finally(() => tell({ type: 'stopped' }));
});
