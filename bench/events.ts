// The event-bus part of `npm run bench` (`--only=events`), on one fresh database:
//   1. events accepted by POST /api/events, single events (c=16) and batches of 100 (c=4), on a
//      hub with EVENT_WORKER=false and one webhook endpoint subscribed (so every event is one
//      event row and one delivery row, in one statement), each next to PostgreSQL's own rate for
//      the same rows: pgbench with a custom script on the same server and database (one event +
//      one delivery per commit; 100 of each per commit), at the same concurrency;
//   2. deliveries/s: 20,000 events queued while no worker runs, then the hub restarted with its
//      worker (same database) and the drain timed at a local receiver (bench/events-receiver.mjs,
//      node:http answering 204, its own process);
//   3. latency from POST /api/events to the receiver's 204 at a fixed 200 events/s (open loop:
//      each event is sent at its scheduled time, whatever the answers before it took; latency is
//      counted from the scheduled time);
//   4. client_credentials tokens/s on that hub with the bus idle and while events are accepted
//      and delivered at 200 events/s, in alternating rounds.
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { keepAliveAgent, send, type Target } from './http.js';
import { closedLoop, cpuTimeMs, now, summarize, type Operation, type Stats } from './load.js';
import { clientCredentialsGrant, type ClientCredentials } from './flows.js';
import { freePort, startNode, waitUntilReady, type Child } from './processes.js';
import { markdownTable, textTable } from './tables.js';
import { emptyReport, type PartDeps, type PartReport } from './part.js';
import { fmt, ms, pct, thousands } from './format.js';

export interface EventsHub {
  target: Target;
  child: Child;
  client: ClientCredentials;
}

/** startHub: every call on the same database, `databaseUrl` (pgbench and the bench's own checks use it). */
export interface EventsDeps extends PartDeps<EventsHub> {
  databaseUrl: string;
}

const SINGLE_CONCURRENCY = 16;
const BATCH_CONCURRENCY = 4;
const BATCH = 100;
const SINGLE_TARGET = 1_500;
const BATCH_TARGET = 10_000;
const DRAIN_EVENTS = 20_000;
const DRAIN_TARGET = 1_000;
const OPEN_RATE = 200;
const LATENCY_P99_TARGET_MS = 500;
const CC_CONCURRENCY = 16;
const CC_SCOPE = 'leads:read';
const CC_TARGET_RATIO = 0.9;
const EVENT_SCOPES = 'events:write webhooks:manage';
const EVENT_TYPE = 'deal.won';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

/** A sales event as a CRM would send it; `key` makes every one new (the idempotency index is paid for). */
export const newEvent = () => ({ type: EVENT_TYPE, id: randomUUID(), data: { dealId: randomUUID(), value: 1200, currency: 'EUR', stage: 'closed_won' } });

// --- PostgreSQL: pgbench and the backends' CPU ---------------------------------------------------

function exec(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => resolve({ ok: !error, output: `${stdout}${stderr}`.trim() }));
  });
}

/** The same rows the hub writes per event (src/events/store.ts PUBLISH): an event and its delivery, `rows` of each per commit. */
function pgbenchScript(rows: number, endpointId: string): string {
  return `-- bench/events.ts: ${rows} event(s) + ${rows} delivery(ies) in one commit, as POST /api/events stores them
WITH stored AS (
  INSERT INTO events (id, type, source, sequence, user_id, data, actor, idempotency_key, depth, caused_by, occurred_at, created_at)
  SELECT gen_random_uuid(), '${EVENT_TYPE}', 'pgbench', nextval('"events_seq_pgbench"'), NULL,
    jsonb_build_object('dealId', gen_random_uuid(), 'value', 1200, 'currency', 'EUR', 'stage', 'closed_won'),
    '{"type":"client","id":"sales"}'::jsonb, gen_random_uuid()::text, 0, NULL, now(), now() AT TIME ZONE 'UTC'
  FROM generate_series(1, ${rows})
  RETURNING id
)
INSERT INTO event_deliveries (event_id, endpoint_id) SELECT id, '${endpointId}'::uuid FROM stored;
`;
}

interface PgbenchResult { tps: number; rowsPerSecond: number; latencyMs: number; output: string }

async function pgbench(deps: EventsDeps, file: string, rows: number, clients: number, seconds: number): Promise<PgbenchResult> {
  const url = new URL(deps.databaseUrl);
  const args = ['-n', '-M', 'prepared', '-c', String(clients), '-j', '2', '-T', String(Math.max(1, Math.round(seconds))), '-f', file,
    '-h', url.hostname, '-p', url.port || '5432', '-U', decodeURIComponent(url.username || 'postgres'), url.pathname.slice(1)];
  const run = await exec('/usr/bin/pgbench', args, { ...process.env, PGPASSWORD: decodeURIComponent(url.password) }, (seconds + 60) * 1000);
  const tps = Number(run.output.match(/tps = ([\d.]+) \(without initial connection time\)/)?.[1]);
  if (!run.ok || !Number.isFinite(tps)) throw new Error(`pgbench failed: ${run.output.slice(-600)}`);
  const latencyMs = Number(run.output.match(/latency average = ([\d.]+) ms/)?.[1]);
  // Rows: an event and a delivery per event.
  return { tps, rowsPerSecond: tps * rows * 2, latencyMs, output: run.output };
}

/** CPU (ms) of the PostgreSQL backends serving this database now (the hub's pool; other databases' work is not counted). */
async function backendsCpu(db: pg.Client): Promise<{ pids: number[]; read(): number }> {
  const { rows } = await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
  const pids = rows.map((r) => r.pid);
  return { pids, read: () => pids.reduce((sum, pid) => { const t = cpuTimeMs(pid); return Number.isFinite(t) ? sum + t : sum; }, 0) };
}

// --- the receiver -------------------------------------------------------------------------------

export class ReceiverProcess {
  private readonly target: Target;
  private constructor(readonly port: number, readonly child: Child) {
    this.target = { name: 'receiver', port, issuer: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, pid: child.pid, agent: keepAliveAgent(2) };
  }

  static async start(deps: Pick<EventsDeps, 'root' | 'childEnv'>) {
    const port = await freePort();
    const child = startNode('webhook receiver', [path.join(deps.root, 'bench/events-receiver.mjs')], { cwd: deps.root, env: deps.childEnv({ RECEIVER_PORT: String(port), NODE_ENV: 'production' }) });
    await waitUntilReady(child, port, '/_stats');
    return new ReceiverProcess(port, child);
  }

  get url() {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  private async get<T>(route: string, method = 'GET'): Promise<T> {
    const reply = await send(this.target, route, { method });
    if (reply.status !== 200) throw new Error(`receiver ${route}: ${reply.status}`);
    return JSON.parse(reply.body) as T;
  }

  stats() { return this.get<{ count: number; first: number | null; last: number | null }>('/_stats'); }
  dump() { return this.get<Array<[string, number]>>('/_dump'); }
  sample() { return this.get<{ headers: Record<string, string>; body: string } | null>('/_sample'); }
  reset() { return this.get<unknown>('/_reset', 'POST'); }
}

// --- load ---------------------------------------------------------------------------------------

/** POST /api/events with `events` (one or an array); resolves with the stored ids. */
export async function postEvents(target: Target, token: string, events: unknown): Promise<string[]> {
  const reply = await send(target, '/api/events', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(events),
  });
  if (reply.status !== 202) throw new Error(`POST /api/events answered ${reply.status}: ${reply.body.slice(0, 200)}`);
  return (JSON.parse(reply.body) as { events: Array<{ id: string }> }).events.map((e) => e.id);
}

interface OpenLoopResult {
  /** Scheduled send time (monotonic ms) of each stored event id. */
  sentAt: Map<string, number>;
  sent: number;
  errors: number;
  firstError: string | undefined;
  /** Sends that started more than 5 ms after their scheduled time (the generator fell behind). */
  late: number;
}

/**
 * Open loop: one event every 1000/rate ms for durationMs, each POSTed at its scheduled time
 * whether or not the earlier ones were answered (a slow hub does not slow the arrivals down).
 */
export async function openLoop(target: Target, token: string, rate: number, durationMs: number): Promise<OpenLoopResult> {
  const interval = 1000 / rate;
  const total = Math.round((durationMs / 1000) * rate);
  const result: OpenLoopResult = { sentAt: new Map(), sent: 0, errors: 0, firstError: undefined, late: 0 };
  const inflight = new Set<Promise<void>>();
  const start = now();
  const fire = (scheduled: number) => {
    result.sent++;
    if (now() - scheduled > 5) result.late++;
    const task = postEvents(target, token, newEvent()).then(
      ([id]) => { result.sentAt.set(id, scheduled); },
      (error: Error) => { result.errors++; result.firstError ??= error.message; },
    ).finally(() => inflight.delete(task));
    inflight.add(task);
  };
  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      while (i < total && start + i * interval <= now()) fire(start + interval * i++);
      if (i >= total) return resolve();
      setTimeout(tick, Math.max(0, start + i * interval - now()));
    };
    tick();
  });
  await Promise.allSettled([...inflight]);
  return result;
}

/** Waits until the receiver has `count` deliveries or nothing arrived for `quietMs`; answers its stats. */
export async function waitForDeliveries(receiver: ReceiverProcess, count: number, quietMs = 15_000) {
  let last = -1;
  let lastChange = now();
  for (;;) {
    const stats = await receiver.stats();
    if (stats.count >= count) return stats;
    if (stats.count !== last) { last = stats.count; lastChange = now(); }
    if (now() - lastChange > quietMs) return stats;
    await sleep(100);
  }
}

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : Number.NaN);

// --- report -------------------------------------------------------------------------------------

interface Line { test: string; hub: string; limit: string; ratio: string; cpu: string; target: string }
const HEADER: Line = { test: 'test', hub: 'Nexus hub', limit: 'PostgreSQL alone (pgbench)', ratio: 'hub/PG', cpu: 'CPU µs/event hub + PG', target: 'target' };

// --- the part -----------------------------------------------------------------------------------

export async function eventsBench(deps: EventsDeps): Promise<PartReport> {
  const { log, scale } = deps;
  const report = emptyReport();
  const lines: Line[] = [];
  const seconds = (s: number) => Math.max(1, s * scale);
  const loads: string[] = [`start ${load()}`];

  const receiver = await ReceiverProcess.start(deps);
  const db = new pg.Client({ connectionString: deps.databaseUrl });
  await db.connect();
  try {
    // --- 1. accepting, worker off -----------------------------------------------------------
    log('events: starting a hub without a delivery worker (EVENT_WORKER=false)...');
    const hubEnv = { WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', ACCESS_TOKEN_TTL: '3600' };
    let hub = await deps.startHub({ ...hubEnv, EVENT_WORKER: 'false' });
    const token = await clientCredentialsGrant(hub.target, hub.client, EVENT_SCOPES);
    const created = await send(hub.target, '/api/webhooks/endpoints', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ url: receiver.url, events: ['deal.*'], description: 'bench receiver' }),
    });
    if (created.status !== 201) throw new Error(`POST /api/webhooks/endpoints answered ${created.status}: ${created.body.slice(0, 300)}`);
    const { endpoint, secret } = JSON.parse(created.body) as { endpoint: { id: string }; secret: string };

    await db.query('CREATE SEQUENCE IF NOT EXISTS "events_seq_pgbench"');
    const scripts = { single: path.join(deps.tmp, 'events-single.sql'), batch: path.join(deps.tmp, 'events-batch.sql') };
    await fs.writeFile(scripts.single, pgbenchScript(1, endpoint.id));
    await fs.writeFile(scripts.batch, pgbenchScript(BATCH, endpoint.id));

    /** A closed-loop window with the hub's and its backends' CPU per event. */
    const accept = async (concurrency: number, perRequest: number, warmupS: number, durationS: number) => {
      const operation: Operation = perRequest === 1
        ? () => postEvents(hub.target, token, newEvent()).then(() => undefined)
        : () => postEvents(hub.target, token, Array.from({ length: perRequest }, newEvent)).then(() => undefined);
      await closedLoop({ concurrency, warmupMs: warmupS * 1000, durationMs: 0, operation, serverPid: hub.target.pid });
      const backends = await backendsCpu(db);
      const pg0 = backends.read();
      const window = await closedLoop({ concurrency, warmupMs: 0, durationMs: durationS * 1000, operation, serverPid: hub.target.pid });
      const pgCpu = backends.read() - pg0;
      const stats = summarize([window]);
      const events = stats.completed * perRequest;
      return { stats, eventsPerSecond: stats.perSecond * perRequest, hubUsPerEvent: (window.serverCpuMs / events) * 1000, pgUsPerEvent: (pgCpu / events) * 1000, backends: backends.pids.length, hubCores: stats.cpuCores };
    };

    log(`events: POST /api/events, single events, c=${SINGLE_CONCURRENCY}...`);
    const single = await accept(SINGLE_CONCURRENCY, 1, seconds(2), seconds(10));
    log(`events: pgbench, one event + one delivery per commit, c=${SINGLE_CONCURRENCY}...`);
    const pgSingle = await pgbench(deps, scripts.single, 1, SINGLE_CONCURRENCY, seconds(10));
    log(`events: POST /api/events, batches of ${BATCH}, c=${BATCH_CONCURRENCY}...`);
    const batch = await accept(BATCH_CONCURRENCY, BATCH, seconds(2), seconds(10));
    log(`events: pgbench, ${BATCH} events + ${BATCH} deliveries per commit, c=${BATCH_CONCURRENCY}...`);
    const pgBatch = await pgbench(deps, scripts.batch, BATCH, BATCH_CONCURRENCY, seconds(10));
    loads.push(`after accepting ${load()}`);

    const singlePass = single.eventsPerSecond >= SINGLE_TARGET;
    const batchPass = batch.eventsPerSecond >= BATCH_TARGET;
    if (!singlePass) report.failures.push(`${fmt(single.eventsPerSecond)} single events/s accepted`);
    if (!batchPass) report.failures.push(`${fmt(batch.eventsPerSecond)} events/s accepted in batches of ${BATCH}`);
    const cpu = (r: typeof single) => `${fmt(r.hubUsPerEvent)} + ${fmt(r.pgUsPerEvent)}`;
    lines.push({
      test: `POST /api/events, 1 event per request, c=${SINGLE_CONCURRENCY}: events/s`, hub: thousands(single.eventsPerSecond),
      limit: `${thousands(pgSingle.tps)} commits/s (${thousands(pgSingle.rowsPerSecond)} rows/s)`, ratio: pct(single.eventsPerSecond / pgSingle.tps), cpu: cpu(single),
      target: `≥ ${thousands(SINGLE_TARGET)}: ${singlePass ? 'PASS' : 'FAIL'}`,
    });
    lines.push({ test: '  latency p50 / p99 (ms)', hub: `${ms(single.stats.p50)} / ${ms(single.stats.p99)}`, limit: `avg ${ms(pgSingle.latencyMs)}`, ratio: '', cpu: '', target: `hub busy ${fmt(single.hubCores, 2)} cores` });
    lines.push({
      test: `POST /api/events, batches of ${BATCH}, c=${BATCH_CONCURRENCY}: events/s`, hub: thousands(batch.eventsPerSecond),
      limit: `${thousands(pgBatch.tps * BATCH)} events/s (${thousands(pgBatch.tps)} commits/s, ${thousands(pgBatch.rowsPerSecond)} rows/s)`, ratio: pct(batch.eventsPerSecond / (pgBatch.tps * BATCH)), cpu: cpu(batch),
      target: `≥ ${thousands(BATCH_TARGET)}: ${batchPass ? 'PASS' : 'FAIL'}`,
    });
    lines.push({ test: '  latency p50 / p99 per batch (ms)', hub: `${ms(batch.stats.p50)} / ${ms(batch.stats.p99)}`, limit: `avg ${ms(pgBatch.latencyMs)}`, ratio: '', cpu: '', target: `hub busy ${fmt(batch.hubCores, 2)} cores` });
    for (const [name, r] of [['single', single], ['batches', batch]] as const) {
      if (r.stats.errors) report.warnings.push(`events / accept ${name}: ${r.stats.errors} failed requests, first: ${r.stats.firstError}`);
    }

    // --- 2. the drain ---------------------------------------------------------------------------
    // What the accept windows and pgbench queued is not the drain's: marked delivered, then vacuumed (as autovacuum would).
    log(`events: queueing ${thousands(DRAIN_EVENTS)} events with no worker running...`);
    await db.query("UPDATE event_deliveries SET status = 'delivered', completed_at = now() WHERE status = 'pending'");
    await db.query('VACUUM ANALYZE event_deliveries');
    await db.query('VACUUM ANALYZE events');
    let queued = 0;
    await Promise.all(Array.from({ length: BATCH_CONCURRENCY }, async () => {
      while (queued < DRAIN_EVENTS) {
        queued += BATCH;
        await postEvents(hub.target, token, Array.from({ length: BATCH }, newEvent));
      }
    }));
    const pending = Number((await db.query<{ n: string }>("SELECT count(*)::text AS n FROM event_deliveries WHERE status = 'pending'")).rows[0].n);
    await hub.child.stop();
    await receiver.reset();

    log('events: restarting the hub with its worker; timing the drain at the receiver...');
    loads.push(`before the drain ${load()}`);
    hub = await deps.startHub(hubEnv);
    let cpuAtFirst = Number.NaN;
    let countAtFirst = 0;
    let drainBackends = { pids: [] as number[], read: () => 0 };
    let pgAtFirst = 0;
    for (let waited = 0; waited < 60_000; waited += 20) {
      const stats = await receiver.stats();
      if (stats.count > 0) {
        cpuAtFirst = cpuTimeMs(hub.target.pid);
        countAtFirst = stats.count;
        drainBackends = await backendsCpu(db);
        pgAtFirst = drainBackends.read();
        break;
      }
      await sleep(20);
    }
    const drained = await waitForDeliveries(receiver, pending);
    const drainCpu = cpuTimeMs(hub.target.pid) - cpuAtFirst;
    const drainPgCpu = drainBackends.read() - pgAtFirst;
    const drainMs = (drained.last ?? Number.NaN) - (drained.first ?? Number.NaN);
    const drainRate = (drained.count - 1) / (drainMs / 1000);
    const drainPass = drained.count >= pending && drainRate >= DRAIN_TARGET;
    if (!drainPass) report.failures.push(`${fmt(drainRate)} deliveries/s (${drained.count} of ${pending} delivered)`);
    const drainedSinceFirst = Math.max(1, drained.count - countAtFirst);
    const drainUs = (drainCpu / drainedSinceFirst) * 1000;
    const drainPgUs = (drainPgCpu / drainedSinceFirst) * 1000;
    loads.push(`after the drain ${load()}`);
    lines.push({
      test: `deliveries/s, draining ${thousands(pending)} queued (WEBHOOK_CONCURRENCY 64), receiver node:http 204`, hub: thousands(drainRate), limit: '', ratio: '',
      cpu: `${fmt(drainUs)} + ${fmt(drainPgUs)}`, target: `≥ ${thousands(DRAIN_TARGET)}/s: ${drainPass ? 'PASS' : 'FAIL'}; ${thousands(drained.count)} received in ${fmt(drainMs / 1000, 1)} s`,
    });

    // The deliveries were signed as Standard Webhooks says (checked with the standardwebhooks library).
    const sample = await receiver.sample();
    let signature = 'no delivery to check';
    try {
      if (sample) {
        new Webhook(secret).verify(sample.body, sample.headers);
        signature = 'verified with standardwebhooks';
      }
    } catch (error) {
      signature = `INVALID (${(error as Error).message})`;
      report.failures.push('a delivery\'s signature did not verify');
    }
    // Every outcome recorded: nothing left pending once the worker has flushed.
    await sleep(500);
    const left = Number((await db.query<{ n: string }>("SELECT count(*)::text AS n FROM event_deliveries WHERE status <> 'delivered'")).rows[0].n);
    if (left) report.warnings.push(`events / drain: ${left} deliveries not recorded as delivered 0.5 s after the drain`);
    const attempts = Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM event_delivery_attempts')).rows[0].n);
    report.notes.push(`events: drain — ${thousands(drained.count)} webhook POSTs received of ${thousands(pending)} queued, ${thousands(attempts)} attempts logged, ${left} not delivered; signature of the first: ${signature}; hub CPU counted from the first delivery received`);

    // --- 3. latency at a fixed rate ------------------------------------------------------------
    const eventToken = await clientCredentialsGrant(hub.target, hub.client, EVENT_SCOPES);
    const latencyTarget: Target = { ...hub.target, agent: keepAliveAgent(64) };
    log(`events: warming up, then ${OPEN_RATE} events/s open loop for ${fmt(seconds(20))} s, POST → receiver 204...`);
    await openLoop(latencyTarget, eventToken, OPEN_RATE, seconds(2) * 1000);
    await waitForDeliveries(receiver, drained.count + OPEN_RATE * seconds(2), 5_000);
    await receiver.reset();
    const cpu0 = cpuTimeMs(hub.target.pid);
    // The main thread alone too: what the bus takes from token issuance and every other request.
    const main0 = cpuTimeMs(hub.target.pid, hub.target.pid);
    const backends = await backendsCpu(db);
    const pg0 = backends.read();
    const open = await openLoop(latencyTarget, eventToken, OPEN_RATE, seconds(20) * 1000);
    await waitForDeliveries(receiver, open.sentAt.size, 10_000);
    const openCpu = cpuTimeMs(hub.target.pid) - cpu0;
    const openMainCpu = cpuTimeMs(hub.target.pid, hub.target.pid) - main0;
    const openPgCpu = backends.read() - pg0;
    const arrivals = new Map(await receiver.dump());
    const latencies: number[] = [];
    for (const [id, sentAt] of open.sentAt) {
      const at = arrivals.get(id);
      if (at !== undefined) latencies.push(at - sentAt);
    }
    latencies.sort((a, b) => a - b);
    const p50 = quantile(latencies, 0.5);
    const p99 = quantile(latencies, 0.99);
    const latencyPass = p99 < LATENCY_P99_TARGET_MS && latencies.length === open.sentAt.size && open.errors === 0;
    if (!latencyPass) report.failures.push(`POST → receiver p99 ${ms(p99)} ms (${latencies.length} of ${open.sent} delivered, ${open.errors} errors)`);
    loads.push(`after the latency run ${load()}`);
    lines.push({
      test: `POST /api/events → receiver's 204 at ${OPEN_RATE} events/s (open loop, ${fmt(seconds(20))} s): p50 / p99 (ms)`, hub: `${ms(p50)} / ${ms(p99)}`, limit: '', ratio: '',
      cpu: `${fmt((openCpu / Math.max(1, latencies.length)) * 1000)} + ${fmt((openPgCpu / Math.max(1, latencies.length)) * 1000)} (hub main thread ${fmt((openMainCpu / Math.max(1, latencies.length)) * 1000)})`,
      target: `p99 < ${LATENCY_P99_TARGET_MS} ms: ${latencyPass ? 'PASS' : 'FAIL'}; ${thousands(latencies.length)} of ${thousands(open.sent)} delivered, max ${ms(latencies.at(-1) ?? Number.NaN)} ms`,
    });
    if (open.errors) report.warnings.push(`events / latency: ${open.errors} failed POSTs, first: ${open.firstError}`);
    if (open.late) report.warnings.push(`events / latency: the generator sent ${open.late} of ${open.sent} events more than 5 ms late (latency still counts from the scheduled time)`);

    // --- 4. tokens with the bus idle and busy --------------------------------------------------
    const tokens: Operation = () => clientCredentialsGrant(hub.target, hub.client, CC_SCOPE).then(() => undefined);
    log(`events: client_credentials c=${CC_CONCURRENCY}, bus idle vs ${OPEN_RATE} events/s, ${deps.rounds} alternating rounds...`);
    await closedLoop({ concurrency: CC_CONCURRENCY, warmupMs: seconds(2) * 1000, durationMs: 0, operation: tokens, serverPid: hub.target.pid });
    const windowMs = (seconds(12) * 1000) / deps.rounds;
    const idle = [];
    const busy = [];
    let busySent = 0;
    let busyStored = 0;
    const busyStart = (await receiver.stats()).count;
    for (let round = 1; round <= deps.rounds; round++) {
      log(`  events: tokens, bus idle, round ${round}/${deps.rounds}`);
      idle.push(await closedLoop({ concurrency: CC_CONCURRENCY, warmupMs: 300, durationMs: windowMs, operation: tokens, serverPid: hub.target.pid }));
      log(`  events: tokens, bus at ${OPEN_RATE} events/s, round ${round}/${deps.rounds}`);
      // The bus runs for a second first (its steady state), then the tokens' window inside it.
      const bus = openLoop(latencyTarget, eventToken, OPEN_RATE, 1000 + windowMs + 600);
      busy.push(await closedLoop({ concurrency: CC_CONCURRENCY, warmupMs: 1000, durationMs: windowMs, operation: tokens, serverPid: hub.target.pid }));
      const r = await bus;
      busySent += r.sent;
      busyStored += r.sentAt.size;
      if (r.errors) report.warnings.push(`events / tokens with the bus: ${r.errors} failed event POSTs, first: ${r.firstError}`);
    }
    const busyDelivered = (await waitForDeliveries(receiver, busyStart + busyStored, 10_000)).count - busyStart;
    const quiet: Stats = summarize(idle);
    const loaded: Stats = summarize(busy);
    const ccRatio = loaded.perSecond / quiet.perSecond;
    const ccPass = ccRatio >= CC_TARGET_RATIO;
    if (!ccPass) report.failures.push(`tokens with the bus at ${OPEN_RATE} events/s: ${pct(ccRatio)} of the idle rate`);
    loads.push(`end ${load()}`);
    lines.push({
      test: `client_credentials c=${CC_CONCURRENCY}, bus idle → ${OPEN_RATE} events/s accepted and delivered: tokens/s`, hub: `${fmt(quiet.perSecond)} → ${fmt(loaded.perSecond)}`, limit: '', ratio: pct(ccRatio),
      cpu: `${fmt(quiet.cpuPerOp * 1000)} → ${fmt(loaded.cpuPerOp * 1000)} per token`,
      target: `≥ ${CC_TARGET_RATIO * 100}% of idle: ${ccPass ? 'PASS' : 'FAIL'}`,
    });
    lines.push({ test: '  token latency p50 / p99, idle → bus (ms)', hub: `${ms(quiet.p50)} / ${ms(quiet.p99)} → ${ms(loaded.p50)} / ${ms(loaded.p99)}`, limit: '', ratio: '', cpu: '', target: `hub busy ${fmt(quiet.cpuCores, 2)} → ${fmt(loaded.cpuCores, 2)} cores; ${thousands(busyDelivered)} of ${thousands(busySent)} events delivered` });
    for (const [name, s] of [['idle', quiet], ['bus', loaded]] as const) {
      if (s.errors) report.warnings.push(`events / tokens ${name}: ${s.errors} failed, first: ${s.firstError}`);
    }
    await hub.child.stop();

    report.notes.push(
      `events: pgbench ${pgSingle.output.match(/^pgbench \((.*)\)$/m)?.[1] ?? ''} -n -M prepared -j 2, same server and database, same columns, indexes and JSON as the hub's statement (bench/events.ts pgbenchScript); hub/PG compares events/s with PostgreSQL's events/s`,
      `events: "CPU µs/event hub + PG" = the hub process's CPU (all its threads, the delivery thread included) and the CPU of this database's backends (the hub's pool, from /proc) per event, "hub main thread" its main thread alone (/proc/<pid>/task/<pid>: what token issuance competes with); PostgreSQL's other processes (WAL writer, checkpointer) not counted; accept windows ${fmt(seconds(2))} s warm-up + ${fmt(seconds(10))} s, hub pool ${single.backends} backends`,
      `events: load average (1/5/15 min): ${loads.join('; ')}`,
    );
    report.descriptions.push(
      `Events: one database; a hub with EVENT_WORKER=false and a webhook endpoint of sales subscribed to deal.* (every event = 1 event row + 1 delivery row, one statement), then restarted with its worker for the drain, the latency and the token rounds (WEBHOOKS_ALLOW_PRIVATE_URLS=true, the receiver bench/events-receiver.mjs on loopback in its own process); tokens for POST /api/events from the client_credentials grant of sales (scope ${EVENT_SCOPES}).`,
    );
    report.summaryLines.push(
      `- Events: POST /api/events closed loop (single c=${SINGLE_CONCURRENCY}, batches of ${BATCH} c=${BATCH_CONCURRENCY}) next to pgbench running the same inserts; drain of ${thousands(DRAIN_EVENTS)} queued deliveries timed at a node:http receiver; POST → receiver latency from an open-loop generator at ${OPEN_RATE} events/s; client_credentials at c=${CC_CONCURRENCY} with the bus idle and at ${OPEN_RATE} events/s in alternating rounds. Targets: ≥ ${thousands(SINGLE_TARGET)} single and ≥ ${thousands(BATCH_TARGET)} batched events/s, ≥ ${thousands(DRAIN_TARGET)} deliveries/s, p99 < ${LATENCY_P99_TARGET_MS} ms, tokens ≥ ${CC_TARGET_RATIO * 100}% of their idle rate.`,
    );
  } finally {
    await db.end().catch(() => {});
  }
  report.text = textTable(HEADER, lines);
  report.markdown = markdownTable(HEADER, lines);
  return report;
}

