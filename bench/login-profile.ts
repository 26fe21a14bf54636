// Where a login's CPU goes: starts one hub (as bench/run.ts does: `node <dist>/server.js`, fresh
// PostgreSQL database, Redis on loopback), runs full PKCE login flows (bench/flows.ts) at a fixed
// concurrency, and prints logins/s, the hub's CPU per login next to one bcryptjs comparison, the
// SQL statements per login (counted in the hub by bench/query-counter.mjs) and, with --profile, a
// CPU profile of the hub's main thread (bench/profile.ts).
//
//   npx tsx bench/login-profile.ts [--dist=dist] [--c=8] [--seconds=10] [--profile] [--match=regex]
//
// --dist: the compiled hub to run (default dist/, from `npm run build`). A build elsewhere works
// when its parent directory links views/, prisma/, node_modules/ and package.json of the project.
// Env: BENCH_PG_URL, BENCH_REDIS_URL as bench/run.ts.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { keepAliveAgent } from './http.js';
import { closedLoop, cpuTimeMs } from './load.js';
import { loginFlow } from './flows.js';
import { cleanUp, createBenchDatabase, freePort, makeTempDir, onCleanUp, runNode, startNode, waitUntilReady, type Child } from './processes.js';
import { summarizeProfile } from './profile.js';
import { measureBcrypt } from './storm.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const DIST = path.resolve(ROOT, option('dist') ?? 'dist');
const CONCURRENCY = Number(option('c') ?? 8);
const SECONDS = Number(option('seconds') ?? 10);
const PROFILE = args.includes('--profile');
const MATCH = option('match');
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const REDIRECT_URI = 'http://localhost:3001/auth/callback';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete result.NODE_OPTIONS;
  delete result.NEXUS_MASTER_KEY;
  return result;
}

async function queryCounts(child: Child, file: string): Promise<Map<string, number>> {
  await fs.rm(file, { force: true });
  child.process.kill('SIGUSR2');
  for (let i = 0; i < 50; i++) {
    await sleep(50);
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (text) return new Map(Object.entries(JSON.parse(text) as Record<string, number>));
  }
  throw new Error('the query counter did not answer');
}

/** utime + stime of each thread of a process, ms, by thread name (from /proc/<pid>/task). */
async function threadCpu(pid: number): Promise<{ main: number; others: number }> {
  let main = 0;
  let others = 0;
  for (const tid of await fs.readdir(`/proc/${pid}/task`)) {
    const stat = await fs.readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = (Number(fields[11]) + Number(fields[12])) * 10;
    if (Number(tid) === pid) main += ms;
    else others += ms;
  }
  return { main, others };
}

/** utime + stime of every process named `name` (e.g. postgres: all its backends), ms. */
async function processesCpu(name: string): Promise<number> {
  let total = 0;
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== name) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += (Number(fields[11]) + Number(fields[12])) * 10;
  }
  return total;
}

/** The CPU the rest of the box spends on logins: this load generator, PostgreSQL, Redis. */
async function boxCpu() {
  const own = process.cpuUsage();
  return { loadGenerator: (own.user + own.system) / 1000, postgres: await processesCpu('postgres'), redis: await processesCpu('redis-server') };
}

async function main() {
  const tmp = await makeTempDir(path.join(os.tmpdir(), 'nexus-login-profile-'));
  const limit = measureBcrypt();
  const databaseUrl = await createBenchDatabase(PG_ADMIN_URL, 'nexus_loginprof');
  const dataDir = path.join(tmp, 'hub-data');
  const port = await freePort();
  const countFile = path.join(tmp, 'queries.json');
  const profileDir = path.join(tmp, 'profile');
  const nodeArgs = [
    ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    '--import', path.join(ROOT, 'bench/query-counter.mjs'),
    path.join(DIST, 'server.js'),
  ];
  const child = startNode('Nexus hub', nodeArgs, {
    cwd: ROOT,
    env: env({
      DATABASE_URL: databaseUrl, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', ISSUER: `http://localhost:${port}`,
      LOG_LEVEL: 'warn', NODE_ENV: 'production', CLIENTS_FILE: path.join(ROOT, 'clients.json'),
      REDIS_URL, REDIS_PREFIX: `nexus-login-profile-${randomBytes(4).toString('hex')}:`,
      AUTHORIZATIONS_PER_IP_PER_MINUTE: '1000000', LOGIN_MAX_FAILURES_PER_ACCOUNT: '1000', LOGIN_MAX_FAILURES_PER_IP: '100000',
      BENCH_QUERY_COUNT_FILE: countFile,
    }),
  });
  await waitUntilReady(child, port, '/readyz');
  const secrets = JSON.parse(await fs.readFile(path.join(dataDir, 'client-secrets.json'), 'utf8')) as Record<string, string>;
  const account = { email: `bench-${randomBytes(3).toString('hex')}@example.com`, password: randomBytes(12).toString('base64url') };
  await runNode(['--import', 'tsx', 'bench/create-user.ts'], {
    cwd: ROOT, env: env({ DATABASE_URL: databaseUrl, DATA_DIR: dataDir, BENCH_EMAIL: account.email, BENCH_PASSWORD: account.password }),
  });
  const target = { name: 'Nexus hub', port, issuer: `http://localhost:${port}`, host: `localhost:${port}`, pid: child.pid, agent: keepAliveAgent(CONCURRENCY) };
  const client = { clientId: 'sales', secret: secrets.sales!, redirectUri: REDIRECT_URI };
  const login = () => loginFlow(target, client, account).then(() => undefined);

  for (let i = 0; i < 3; i++) await login();
  await closedLoop({ concurrency: CONCURRENCY, warmupMs: 3000, durationMs: 0, operation: login, serverPid: child.pid });

  // One login alone: its SQL statements.
  const before = await queryCounts(child, countFile);
  await login();
  const after = await queryCounts(child, countFile);
  const perLogin = [...after].map(([sql, n]) => [sql, n - (before.get(sql) ?? 0)] as const).filter(([, n]) => n > 0);

  // Every login started counts, and the hub is idle before and after: CPU per login is exact.
  const countsBeforeWindow = await queryCounts(child, countFile);
  const cpuBefore = cpuTimeMs(child.pid);
  const threadsBefore = await threadCpu(child.pid);
  const boxBefore = await boxCpu();
  const began = performance.now();
  const deadline = began + SECONDS * 1000;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < deadline) {
      const start = performance.now();
      try {
        await login();
        latencies.push(performance.now() - start);
      } catch (error) {
        errors++;
        firstError ??= (error as Error).message;
      }
    }
  }));
  const elapsedMs = performance.now() - began;
  const threadsAfter = await threadCpu(child.pid);
  const boxAfter = await boxCpu();
  const countsAfterWindow = await queryCounts(child, countFile);
  const completed = latencies.length;
  latencies.sort((a, b) => a - b);
  const stats = {
    perSecond: (1000 * completed) / elapsedMs,
    p50: latencies[Math.floor(completed / 2)] ?? Number.NaN,
    p99: latencies[Math.min(completed - 1, Math.floor(completed * 0.99))] ?? Number.NaN,
    errors, firstError,
    cpuPerOp: (cpuTimeMs(child.pid) - cpuBefore) / completed,
    cpuCores: (cpuTimeMs(child.pid) - cpuBefore) / elapsedMs,
  };
  const connectionsOpened = [...countsAfterWindow].filter(([k]) => k.endsWith('(new connection)')).reduce((sum, [k, n]) => sum + n - (countsBeforeWindow.get(k) ?? 0), 0);
  const mainPerLogin = (threadsAfter.main - threadsBefore.main) / completed;
  const othersPerLogin = (threadsAfter.others - threadsBefore.others) / completed;
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  await child.stop();

  const lines = [
    `hub ${path.relative(ROOT, DIST) || DIST}/server.js, logins c=${CONCURRENCY} for ${SECONDS} s${PROFILE ? ' (CPU-profiled: slower)' : ''}; load average after ${load}`,
    `  logins/s ${stats.perSecond.toFixed(2)} = ${((100 * stats.perSecond) / limit.loginsPerSecond).toFixed(0)}% of ${limit.cores} × 1/${limit.compareCpuMs.toFixed(0)} ms = ${limit.loginsPerSecond.toFixed(1)}/s; p50 ${stats.p50.toFixed(0)} ms, p99 ${stats.p99.toFixed(0)} ms; errors ${stats.errors}${stats.firstError ? ` (${stats.firstError})` : ''}`,
    `  hub CPU per login ${stats.cpuPerOp.toFixed(1)} ms (bcrypt ${limit.compareCpuMs.toFixed(0)} ms, the rest ${(stats.cpuPerOp - limit.compareCpuMs).toFixed(1)} ms); hub busy ${stats.cpuCores.toFixed(2)} cores`,
    `  per login: main thread ${mainPerLogin.toFixed(1)} ms, other threads (password workers, GC, libuv) ${othersPerLogin.toFixed(1)} ms`,
    `  per login elsewhere on the box: load generator ${((boxAfter.loadGenerator - boxBefore.loadGenerator) / completed).toFixed(1)} ms, PostgreSQL ${((boxAfter.postgres - boxBefore.postgres) / completed).toFixed(1)} ms, Redis ${((boxAfter.redis - boxBefore.redis) / completed).toFixed(1)} ms (all processes of each, other work included)`,
    `  database connections opened while measuring: ${connectionsOpened} (for ${completed} logins)`,
    `  SQL statements in one login: ${perLogin.reduce((sum, [, n]) => sum + n, 0)}`,
    ...perLogin.map(([sql, n]) => `    ${String(n).padStart(3)}  ${sql}`),
  ];
  console.log(lines.join('\n'));
  if (PROFILE) {
    const files = await Promise.all((await fs.readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile')).map(async (f) => ({ file: path.join(profileDir, f), size: (await fs.stat(path.join(profileDir, f))).size })));
    const main = files.sort((a, b) => b.size - a.size)[0];
    if (main) {
      const kept = path.join(os.tmpdir(), `nexus-login-${Date.now()}.cpuprofile`);
      await fs.copyFile(main.file, kept);
      console.log(`\n${summarizeProfile(kept, 40, MATCH ? new RegExp(MATCH) : undefined)}\n(profile kept at ${kept})`);
    }
  }
}

try {
  await main();
} finally {
  await cleanUp();
}
