// What is read at scrape time rather than counted on the request path: the gateway's own
// counters (src/gateway/metrics.ts keeps them; bridged here, not counted twice), the hub's pg
// pool, the webhook attempts the delivery thread counted, and the webhook queue's depth — the
// only metric that costs a statement, cached.
import type pg from 'pg';
import client from 'prom-client';
import type { GatewayMetrics, ProjectCounters } from '../gateway/metrics.js';
import type { DeliveryOutcome } from '../events/worker.js';

/** Scrapes within this long of the last depth read reuse it (several scrapers, a tight interval). */
export const QUEUE_DEPTH_CACHE_MS = 5_000;

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string };

/** A metric whose samples are computed at scrape time (prom-client's registry only calls get()). */
function computed(registry: client.Registry, name: string, help: string, type: 'counter' | 'histogram', samples: () => Sample[]) {
  const metric = { name, help, type, aggregator: 'sum', get: async () => ({ name, help, type, aggregator: 'sum', values: samples() }) };
  registry.registerMetric(metric as unknown as client.Metric);
}

/** The gateway's per-project counters as Prometheus series; a request before its project was known is `unknown`. */
export function bridgeGateway(registry: client.Registry, gateway: GatewayMetrics) {
  const projects = () => Object.entries(gateway.snapshot()).map(([project, counters]): [string, ProjectCounters] => [project || 'unknown', counters]);
  computed(registry, 'nexus_gateway_requests_total', 'Requests through the API gateway, by project and status class', 'counter', () =>
    projects().flatMap(([project, counters]) => Object.entries(counters.requests).map(([status, value]) => ({ labels: { project, status }, value }))));
  computed(registry, 'nexus_gateway_upstream_seconds', 'Time until the upstream\'s answer headers arrived, by project', 'histogram', () =>
    projects().flatMap(([project, { latency }]): Sample[] => [
      ...gateway.bucketsMs.map((bound, i) => ({ metricName: 'nexus_gateway_upstream_seconds_bucket', labels: { project, le: bound / 1000 }, value: latency.buckets[i] })),
      { metricName: 'nexus_gateway_upstream_seconds_bucket', labels: { project, le: '+Inf' }, value: latency.count },
      { metricName: 'nexus_gateway_upstream_seconds_sum', labels: { project }, value: latency.sumMs / 1000 },
      { metricName: 'nexus_gateway_upstream_seconds_count', labels: { project }, value: latency.count },
    ]));
}

/** The hub's pg pool (src/db/database.ts): connections open, idle, and callers waiting for one. */
export function poolGauge(registry: client.Registry, pool: pg.Pool) {
  return new client.Gauge({
    name: 'nexus_db_pool_connections', help: 'The hub\'s PostgreSQL pool: total and idle connections, and queries waiting for one',
    labelNames: ['state'] as const, registers: [registry],
    collect() {
      this.set({ state: 'total' }, pool.totalCount);
      this.set({ state: 'idle' }, pool.idleCount);
      this.set({ state: 'waiting' }, pool.waitingCount);
    },
  });
}

/**
 * Deliveries due now or overdue (hub-wide: the queue is one table), read at most every
 * QUEUE_DEPTH_CACHE_MS and shared by concurrent scrapes. A failed read keeps the last value:
 * a scrape never fails because the database is slow.
 */
export function queueDepthGauge(registry: client.Registry, depth: () => Promise<number>, now = () => Date.now()) {
  let value: number | undefined;
  let readAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<void> | undefined;
  const refresh = () => {
    reading ??= depth().then((n) => { value = n; }, () => {}).finally(() => {
      readAt = now();
      reading = undefined;
    });
    return reading;
  };
  return new client.Gauge({
    name: 'nexus_webhook_queue_depth', help: 'Webhook deliveries due now or overdue, hub-wide (cached for 5 s)', registers: [registry],
    async collect() {
      if (now() - readAt >= QUEUE_DEPTH_CACHE_MS) await refresh();
      if (value !== undefined) this.set(value);
    },
  });
}

/** This instance's webhook attempts by outcome, counted by the delivery thread in shared memory. */
export function deliveryOutcomes(registry: client.Registry, outcomes: () => Record<DeliveryOutcome, number>) {
  computed(registry, 'nexus_webhook_deliveries_total', 'Webhook delivery attempts of this instance, by outcome (delivered, retrying, failed)', 'counter', () =>
    Object.entries(outcomes()).map(([outcome, value]) => ({ labels: { outcome }, value })));
}

/** Everything read at scrape time, on one registry. */
export function collectHubState(registry: client.Registry, sources: {
  gateway: GatewayMetrics; pool: pg.Pool; queueDepth: () => Promise<number>; deliveryOutcomes: () => Record<DeliveryOutcome, number>;
}) {
  bridgeGateway(registry, sources.gateway);
  poolGauge(registry, sources.pool);
  queueDepthGauge(registry, sources.queueDepth);
  deliveryOutcomes(registry, sources.deliveryOutcomes);
}
