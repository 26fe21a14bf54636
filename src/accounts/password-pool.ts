// bcrypt off the event loop. bcryptjs is pure JavaScript (~100 ms of CPU per hash or comparison
// at cost 11): on the main thread a handful of logins in flight stalls every other request, token
// issuance included. Here it runs in a pool of worker threads with a bounded queue: when the
// queue is full the caller gets PasswordPoolBusy (503 with Retry-After) at once instead of a wait
// that grows without limit.
import os from 'node:os';
import { createRequire } from 'node:module';
import { Piscina } from 'piscina';

export interface PasswordPoolOptions {
  /** Threads hashing in parallel. */
  workers: number;
  /** Hashes allowed to wait for a free thread; one more is refused with PasswordPoolBusy. */
  queueMax: number;
}

/** The pool is full: answered 503 with `Retry-After` (src/http/errors.ts). */
export class PasswordPoolBusy extends Error {
  readonly status = 503;
  readonly expose = true;
  constructor(readonly retryAfter: number) {
    super('Too many sign-ins are being checked right now. Please try again in a few seconds.');
    this.name = 'PasswordPoolBusy';
  }
}

// The compiled hub runs dist/accounts/password-worker.js. Run from source (tsx, vitest, the
// `nexus` command) this module is a .ts file and so is the worker; its threads get tsx's require
// hook, which piscina's loader uses (it require()s the file first). tsc copies no .js from src/,
// so a plain-JavaScript worker would be missing from dist/.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_FILE = new URL(`./password-worker.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url).href;
// Explicit, so threads never inherit the hub's own flags (profilers, preloaded probes).
const WORKER_EXEC_ARGV = FROM_SOURCE ? ['--require', createRequire(import.meta.url).resolve('tsx/cjs')] : [];

// Threads of a hub that stopped signing people in exit: each holds a V8 heap of its own.
const IDLE_TIMEOUT_MS = 10_000;
// Hashing threads yield the CPU to the event loop (Linux, per thread): a login storm then slows
// logins, not token issuance and page loads.
const NICE_INCREMENT = 10;
// Shutdown waits this long for the hashes in progress (the hub's own shutdown gives up at 10 s).
const CLOSE_TIMEOUT_MS = 5_000;

export class PasswordPool {
  private readonly threads: Piscina;
  private inFlight = 0;

  constructor(private readonly options: PasswordPoolOptions) {
    this.threads = new Piscina({
      filename: WORKER_FILE,
      name: 'compare', // the export a thread loads as it starts (tasks name theirs); logins compare
      execArgv: WORKER_EXEC_ARGV,
      minThreads: 0, // none until the first password: most CLI commands and a fresh hub need none
      maxThreads: options.workers,
      idleTimeout: IDLE_TIMEOUT_MS,
      niceIncrement: NICE_INCREMENT,
      closeTimeout: CLOSE_TIMEOUT_MS,
    });
  }

  hash(password: string, cost: number): Promise<string> {
    return this.run('hash', { password, cost });
  }

  compare(password: string, hash: string): Promise<boolean> {
    return this.run('compare', { password, hash });
  }

  /** Lets the hashes in progress finish, then stops the threads. */
  close(): Promise<void> {
    return this.threads.close();
  }

  private async run<T>(name: 'hash' | 'compare', task: object): Promise<T> {
    // Counted here rather than with piscina's maxQueue: the limit is exactly workers + queueMax,
    // also while threads are still starting.
    if (this.inFlight >= this.options.workers + this.options.queueMax) throw new PasswordPoolBusy(this.drainSeconds());
    this.inFlight++;
    try {
      return (await this.threads.run(task, { name })) as T;
    } finally {
      this.inFlight--;
    }
  }

  /** About when a new hash would get a thread: the queue ahead of it at the recent pace. */
  private drainSeconds(): number {
    const perHashMs = this.threads.histogram.runTime.mean;
    if (!Number.isFinite(perHashMs) || perHashMs <= 0) return 1;
    return Math.max(1, Math.ceil((this.inFlight / this.options.workers) * perHashMs / 1000));
  }
}

// One pool per process. The hub and the CLI hold it while they run (sized by their
// configuration; a second hub in the same process shares the first one's pool), and the last
// release closes it. Code that hashes without holding it (bench/create-user.ts) gets a pool
// without an admission limit: there is no HTTP caller to answer 503 to.
let shared: { pool: PasswordPool; holders: number } | undefined;

export function passwordPool(): PasswordPool {
  shared ??= { pool: new PasswordPool({ workers: os.availableParallelism(), queueMax: Number.POSITIVE_INFINITY }), holders: 0 };
  return shared.pool;
}

/** Opens (or joins) the process's pool; the returned function releases it. */
export function holdPasswordPool(options: PasswordPoolOptions): () => Promise<void> {
  shared ??= { pool: new PasswordPool(options), holders: 0 };
  const held = shared;
  held.holders++;
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    held.holders--;
    if (held.holders > 0) return;
    if (shared === held) shared = undefined;
    await held.pool.close();
  };
}
