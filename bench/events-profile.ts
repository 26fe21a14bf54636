// Where the event bus's CPU goes in the hub: starts one hub (`node <dist>/server.js`, fresh
// PostgreSQL database, Redis on loopback) with a webhook endpoint of sales subscribed to deal.*
// and the events bench's receiver, sends events open loop at a fixed rate (as bench/events.ts's
// latency and token rounds do), and prints the hub's CPU per event on its main thread and on its
// other threads (workers, GC, libuv) from /proc — repeatable on a busy machine, where throughput
// is not. Then, for scale, the main thread's CPU per client_credentials token at c=16 alone.
//
//   npx tsx bench/events-profile.ts [--dist=dist] [--rate=200] [--seconds=15] [--threads] [--profile] [--match=regex] [--env=NAME=VALUE…] [--node-arg=FLAG…]
//
// --dist: the compiled hub (default dist/); a build elsewhere works when its parent directory
// links views/, prisma/, node_modules/, package.json and the JSON files of the project.
// --threads: each thread's user and system CPU per event too.
// --env: extra variables for the hub (e.g. --env=EVENT_WORKER=false: accepting alone).
// --node-arg: a flag for the hub's node (e.g. --node-arg=--max-semi-space-size=32).
// Env: BENCH_PG_URL, BENCH_REDIS_URL as bench/run.ts.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { keepAliveAgent, send, type Target } from './http.js';
import { closedLoop, cpuTimeMs } from './load.js';
import { clientCredentialsGrant } from './flows.js';
import { cleanUp, createBenchDatabase, freePort, makeTempDir, onCleanUp, startNode, waitUntilReady } from './processes.js';
import { summarizeProfile } from './profile.js';
import { openLoop, ReceiverProcess, waitForDeliveries } from './events.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const DIST = path.resolve(ROOT, option('dist') ?? 'dist');
const RATE = Number(option('rate') ?? 200);
const SECONDS = Number(option('seconds') ?? 15);
const PROFILE = args.includes('--profile');
const THREADS = args.includes('--threads');
const MATCH = option('match');
const NODE_ARGS = args.filter((a) => a.startsWith('--node-arg=')).map((a) => a.slice('--node-arg='.length));
const EXTRA_ENV = Object.fromEntries(args.filter((a) => a.startsWith('--env=')).map((a) => a.slice(6).split(/=(.*)/s, 2) as [string, string]));
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete result.NODE_OPTIONS;
  delete result.NEXUS_MASTER_KEY;
  return result;
}


/** CPU (ms) of the main thread and of all other threads of a process; `each`: user and system ms by thread. */
async function threads(pid: number) {
  let others = 0;
  const each = new Map<string, { user: number; system: number }>();
  for (const tid of await fs.readdir(`/proc/${pid}/task`)) {
    if (Number(tid) !== pid) others += cpuTimeMs(pid, Number(tid)) || 0;
    const stat = await fs.readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    each.set(`${tid} ${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}`, { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 });
  }
  return { main: cpuTimeMs(pid, pid), others, each };
}

/** Per thread, user + system µs per `n` between two readings (threads with less than 1 µs left out). */
function breakdown(before: Awaited<ReturnType<typeof threads>>, after: Awaited<ReturnType<typeof threads>>, n: number) {
  return [...after.each].map(([name, t]) => {
    const b = before.each.get(name) ?? { user: 0, system: 0 };
    return { name, user: ((t.user - b.user) / n) * 1000, system: ((t.system - b.system) / n) * 1000 };
  }).filter((t) => t.user + t.system >= 1).map((t) => `    ${t.name}: user ${t.user.toFixed(0)} µs, system ${t.system.toFixed(0)} µs`);
}

async function main() {
  const tmp = await makeTempDir(path.join(os.tmpdir(), 'nexus-events-profile-'));
  const databaseUrl = await createBenchDatabase(PG_ADMIN_URL, 'nexus_eventsprof');
  const dataDir = path.join(tmp, 'hub-data');
  const port = await freePort();
  const profileDir = path.join(tmp, 'profile');
  const receiver = await ReceiverProcess.start({ root: ROOT, childEnv: env });
  const child = startNode('Nexus hub', [...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ...NODE_ARGS, path.join(DIST, 'server.js')], {
    cwd: ROOT,
    env: env({
      DATABASE_URL: databaseUrl, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', ISSUER: `http://localhost:${port}`,
      LOG_LEVEL: 'warn', NODE_ENV: 'production', CLIENTS_FILE: path.join(ROOT, 'clients.json'),
      REDIS_URL, REDIS_PREFIX: `nexus-events-profile-${randomBytes(4).toString('hex')}:`,
      WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', ACCESS_TOKEN_TTL: '3600', ...EXTRA_ENV,
    }),
  });
  await waitUntilReady(child, port, '/readyz');
  const secrets = JSON.parse(await fs.readFile(path.join(dataDir, 'client-secrets.json'), 'utf8')) as Record<string, string>;
  const target: Target = { name: 'Nexus hub', port, issuer: `http://localhost:${port}`, host: `localhost:${port}`, pid: child.pid, agent: keepAliveAgent(64) };
  const client = { clientId: 'sales', secret: secrets.sales!, redirectUri: 'http://localhost:3001/auth/callback' };
  const token = await clientCredentialsGrant(target, client, 'events:write webhooks:manage');
  const created = await send(target, '/api/webhooks/endpoints', {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ url: receiver.url, events: ['deal.*'] }),
  });
  if (created.status !== 201) throw new Error(`POST /api/webhooks/endpoints answered ${created.status}: ${created.body.slice(0, 300)}`);
  const delivering = EXTRA_ENV.EVENT_WORKER !== 'false';

  // Warm-up (JIT, pools, prepared statements), then an idle moment so that nothing is in flight.
  await openLoop(target, token, RATE, 3000);
  if (delivering) await waitForDeliveries(receiver, RATE * 3, 5_000);
  await new Promise((resolve) => setTimeout(resolve, 500));
  await receiver.reset();

  const before = await threads(child.pid);
  const sent = await openLoop(target, token, RATE, SECONDS * 1000);
  const received = delivering ? (await waitForDeliveries(receiver, sent.sentAt.size, 10_000)).count : 0;
  await new Promise((resolve) => setTimeout(resolve, 300)); // the last outcomes recorded
  const after = await threads(child.pid);
  const events = sent.sentAt.size;

  // Not while profiling: the profile is then the bus's alone.
  const tokens = () => clientCredentialsGrant(target, client, 'leads:read').then(() => undefined);
  if (!PROFILE) await closedLoop({ concurrency: 16, warmupMs: 2000, durationMs: 0, operation: tokens, serverPid: child.pid });
  const t0 = await threads(child.pid);
  const window = await closedLoop({ concurrency: 16, warmupMs: 0, durationMs: PROFILE ? 0 : 5000, operation: tokens, serverPid: child.pid });
  const t1 = await threads(child.pid);
  await child.stop();

  const perEvent = (ms: number) => `${((ms / events) * 1000).toFixed(0)} µs`;
  const perToken = (ms: number) => `${((ms / window.completed) * 1000).toFixed(0)} µs`;
  console.log([
    `hub ${NODE_ARGS.length ? `node ${NODE_ARGS.join(' ')} ` : ''}${path.relative(ROOT, DIST) || DIST}/server.js${Object.keys(EXTRA_ENV).length ? ` with ${Object.entries(EXTRA_ENV).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}; ${RATE} events/s for ${SECONDS} s${PROFILE ? ' (CPU-profiled: slower)' : ''}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    `  events: ${events} stored of ${sent.sent} sent (${sent.errors} errors${sent.firstError ? `: ${sent.firstError}` : ''}), ${received} delivered`,
    `  hub CPU per event: main thread ${perEvent(after.main - before.main)}, other threads ${perEvent(after.others - before.others)}`,
    ...(THREADS ? ['  per event, by thread:', ...breakdown(before, after, events)] : []),
    `  client_credentials c=16 alone: ${(window.completed / 5).toFixed(0)} tokens/s, main thread ${perToken(t1.main - t0.main)}, other threads ${perToken(t1.others - t0.others)} per token`,
    `  bus share of the main thread at ${RATE} events/s ≈ ${((RATE * (after.main - before.main)) / events / 10).toFixed(1)}%; tokens keep ≈ ${(100 - (RATE * (after.main - before.main)) / events / 10).toFixed(1)}% if issuance fills it`,
  ].join('\n'));
  if (PROFILE) {
    const files = await Promise.all((await fs.readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile')).map(async (f) => ({ file: path.join(profileDir, f), size: (await fs.stat(path.join(profileDir, f))).size })));
    const largest = files.sort((a, b) => b.size - a.size)[0];
    if (largest) {
      const kept = path.join(os.tmpdir(), `nexus-events-${Date.now()}.cpuprofile`);
      await fs.copyFile(largest.file, kept);
      console.log(`\n${summarizeProfile(kept, 40, MATCH ? new RegExp(MATCH) : undefined)}\n(profile kept at ${kept}; warm-up included)`);
    }
  }
}

try {
  await main();
} finally {
  await cleanUp();
}
