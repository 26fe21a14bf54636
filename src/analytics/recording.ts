// The analytics recording of one hub instance: the activity recorder and the daily counters,
// flushed every few seconds and at close, and the daily snapshot at start and after each UTC
// midnight. Nothing here runs on a request's path.
import type pg from 'pg';
import type { Logger } from '../logger.js';
import { ActivityRecorder } from './recorder.js';
import { DailyCounters } from './counters.js';
import { takeTodaysSnapshot } from './snapshots.js';
import { msToMidnight } from './day.js';
import type { GatewayRecord } from '../gateway/log.js';

export const FLUSH_INTERVAL_MS = 5_000;
// A little past midnight, so the clocks of several instances agree that the day has turned.
const AFTER_MIDNIGHT_MS = 5_000;

export class AnalyticsRecording {
  readonly activity: ActivityRecorder;
  readonly counters: DailyCounters;
  private flushTimer: NodeJS.Timeout | undefined;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  /**
   * For oidc-provider's token events (src/oidc/provider.ts); undefined with ANALYTICS_ACTIVITY=false,
   * so that the token path then does no activity work at all.
   */
  readonly recordActivity: ((project: string, userId: string) => void) | undefined;

  /**
   * `activity` false (ANALYTICS_ACTIVITY=false): no per-user activity is recorded, from tokens or
   * the gateway; the counters and the daily snapshot run as usual.
   */
  constructor(private readonly pool: pg.Pool, private readonly log: Logger, { activity = true } = {}, private readonly clock: () => number = Date.now) {
    this.activity = new ActivityRecorder(pool, clock);
    this.counters = new DailyCounters(pool, clock);
    this.recordActivity = activity ? (project, userId) => this.activity.record(project, userId) : undefined;
  }

  /**
   * For the gateway's request records: the request counted, and the caller active in the
   * project — unless activity is off, or the hub itself called as the user (automation rules, the
   * dashboard's summary cards): opening the dashboard must not make a user "active" in every project.
   */
  readonly observeGateway = (record: GatewayRecord) => {
    this.counters.gatewayRequest(record.project, record.status, record.ms);
    if (record.user && record.authMethod !== 'automation') this.recordActivity?.(record.project, record.user);
  };

  start() {
    this.flushTimer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS);
    this.flushTimer.unref();
    this.snapshot();
  }

  /** Writes what was recorded so far (the tests call it instead of waiting for the timer). */
  flush(): Promise<void> {
    // One flush at a time: a slow database must not pile statements up.
    this.flushing = this.flushing.then(async () => {
      for (const part of [this.activity, this.counters]) {
        await part.flush().catch((error: unknown) => this.log.warn({ err: (error as Error).message }, 'analytics flush failed; kept for the next one'));
      }
    });
    return this.flushing;
  }

  private snapshot() {
    takeTodaysSnapshot(this.pool, new Date(this.clock())).then(
      (taken) => taken && this.log.info({ event: 'subscription_snapshot' }, 'daily subscription snapshot taken'),
      (error: unknown) => this.log.warn({ err: (error as Error).message }, 'daily subscription snapshot failed'),
    );
    this.snapshotTimer = setTimeout(() => this.snapshot(), msToMidnight(new Date(this.clock())) + AFTER_MIDNIGHT_MS);
    this.snapshotTimer.unref();
  }

  async close() {
    clearInterval(this.flushTimer);
    clearTimeout(this.snapshotTimer);
    await this.flush();
  }
}
