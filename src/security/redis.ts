// The Redis connection behind the shared rate-limit counters, built to fail fast. Logins must
// not wait for Redis: while it is unreachable a command fails at once (no offline queue, a
// short timeout, no retries) and a breaker skips Redis for a moment after a failure, so the
// limiters answer from their per-instance fallback within milliseconds. ioredis keeps
// reconnecting in the background (capped backoff) and counting moves back when it is ready.
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

// A rate-limit command takes well under a millisecond on a healthy Redis; the timeout only
// catches a hung one. It stays well above what a busy event loop can add to a healthy command
// (a timed-out command sends counting to the per-instance fallback, which splits the count), and
// below the second a login may take while Redis hangs.
const COMMAND_TIMEOUT_MS = 500;
// How long a failed command sends the limiters to their fallback (a hung Redis keeps its
// connection "ready", so only a failure tells); a reconnection ends it sooner.
const BREAK_MS = 5_000;
const MAX_RECONNECT_DELAY_MS = 1_000;

export class RedisLink {
  readonly client: Redis;
  private skipUntil = 0;
  private down = false;

  constructor(url: string, private readonly log: Logger) {
    this.client = new Redis(url, {
      enableOfflineQueue: false,
      commandTimeout: COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
      retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    });
    // Every reconnection attempt fails while Redis is down: one line per outage, not per attempt.
    this.client.on('error', (error: Error) => this.failed(error));
    this.client.on('ready', () => {
      this.skipUntil = 0;
      this.recovered();
    });
  }

  /** Whether Redis is worth asking now. */
  get usable() {
    return this.client.status === 'ready' && Date.now() >= this.skipUntil;
  }

  /** Runs a command if Redis is worth asking; rejects at once otherwise, so the caller falls back. */
  async run<T>(command: () => Promise<T>): Promise<T> {
    if (!this.usable) throw new Error('Redis is unreachable');
    try {
      const result = await command();
      this.recovered();
      return result;
    } catch (error) {
      this.failed(error as Error);
      throw error;
    }
  }

  private failed(error: Error) {
    this.skipUntil = Date.now() + BREAK_MS;
    if (this.down) return;
    this.down = true;
    this.log.warn({ err: error.message }, 'Redis unreachable: rate limits count in each instance until it is back');
  }

  private recovered() {
    if (!this.down) return;
    this.down = false;
    this.log.info('Redis reachable again: rate limits count in Redis');
  }

  close() {
    this.client.disconnect();
  }
}
