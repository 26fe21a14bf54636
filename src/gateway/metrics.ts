// Per-project counters of gateway traffic (requests by status class, latency histogram), kept
// in this process and read with snapshot() — what the analytics issue will chart.
const BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

export interface ProjectCounters {
  requests: Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', number>;
  /** Upstream latency: count, sum, and counts at or under each bound of `bucketsMs`. */
  latency: { count: number; sumMs: number; buckets: number[] };
  bytesIn: number;
  bytesOut: number;
  rateLimited: number;
}

export class GatewayMetrics {
  readonly bucketsMs = BUCKETS_MS;
  private readonly projects = new Map<string, ProjectCounters>();

  record(project: string, status: number, upstreamMs: number | undefined, bytesIn: number, bytesOut: number) {
    let counters = this.projects.get(project);
    if (!counters) {
      counters = {
        requests: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
        latency: { count: 0, sumMs: 0, buckets: BUCKETS_MS.map(() => 0) },
        bytesIn: 0, bytesOut: 0, rateLimited: 0,
      };
      this.projects.set(project, counters);
    }
    const klass = `${Math.min(5, Math.max(1, Math.floor(status / 100)))}xx` as keyof ProjectCounters['requests'];
    counters.requests[klass]++;
    if (status === 429) counters.rateLimited++;
    counters.bytesIn += bytesIn;
    counters.bytesOut += bytesOut;
    if (upstreamMs !== undefined) {
      counters.latency.count++;
      counters.latency.sumMs += upstreamMs;
      for (let i = 0; i < BUCKETS_MS.length; i++) if (upstreamMs <= BUCKETS_MS[i]) counters.latency.buckets[i]++;
    }
  }

  /** A copy of every project's counters. */
  snapshot(): Record<string, ProjectCounters> {
    return structuredClone(Object.fromEntries(this.projects));
  }
}
