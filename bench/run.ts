// `npm run bench` (= `npm run build && tsx bench/run.ts`): the Nexus hub side by side with a
// bare oidc-provider, on this machine, in one run (about 3 minutes), then the SDK's offline
// verifier next to raw jose (bench/sdk-verify.ts). Starts both servers as child processes on
// 127.0.0.1 — the hub exactly as operators run it, `node dist/server.js` (the build `npm run
// bench` just made) — uses a scratch PostgreSQL database and Redis key prefix, and removes all
// of it afterwards.
//
//   npm run bench                        everything
//   npm run bench -- --quick             shorter windows (about 1.5 minutes), for a smoke test
//   npm run bench -- --only=cc,memory    a subset: cc, login, jwks, discovery, memory, sdk, storm, gateway, events, analytics, activity
//   npm run bench -- --only=storm        tokens during a login storm, logins/s against bcrypt's limit
//   npm run bench -- --only=gateway      the API gateway next to the upstream directly, nginx and a bare undici proxy (bench/gateway.ts)
//   npm run bench -- --only=events       the event bus: events/s accepted next to pgbench, deliveries/s, POST → webhook latency, tokens while it runs (bench/events.ts)
//   npm run bench -- --only=analytics    /api/analytics/* queries on 1,000,000 activity rows, each against 300 ms (bench/analytics.ts)
//   npm run bench -- --only=activity     client_credentials and refresh tokens/s with activity recording vs ANALYTICS_ACTIVITY=false (bench/activity.ts)
//   npm run bench -- --profile           CPU-profile the hub (with --only=cc unless --only is given; --only=gateway: the gateway's hub; --only=events: both events hubs)
//   npm run bench -- --mem-detail        also print each server's memory breakdown at the idle reading
//   npm run bench -- --strict            exit with status 2 when a target is missed (for CI)
//
// Env: BENCH_PG_URL (admin URL, default postgresql://postgres@127.0.0.1:5432/postgres),
//      BENCH_REDIS_URL (default redis://127.0.0.1:6379; empty: the hub counts logins in PG),
//      BENCH_SCALE (multiplies every warm-up and measuring window, default 1), BENCH_ROUNDS (default 2),
//      BENCH_HUB_NODE_ARGS (extra node flags for the hub process, e.g. "--max-semi-space-size=4").
// Run `tsx bench/run.ts` directly only after `npm run build`: the hub is dist/server.js.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { existsSync } from 'node:fs';
import { keepAliveAgent, type Target } from './http.js';
import { closedLoop, memoryMb, summarize, type Operation, type Stats, type Window } from './load.js';
import { clientCredentialsGrant, getOk, loginFlow, verifyJwt, type Account, type ClientCredentials } from './flows.js';
import { childOutputs, cleanUp, createBenchDatabase, freePort, makeTempDir, onCleanUp, runNode, startNode, waitUntilReady, type Child } from './processes.js';
import { summarizeProfile } from './profile.js';
import { loginStorm, measureBcrypt } from './storm.js';
import { gatewayBench } from './gateway.js';
import { eventsBench } from './events.js';
import { analyticsBench } from './analytics.js';
import type { PartReport } from './part.js';
import { activityBench } from './activity.js';
import { fmt, ms, pct } from './format.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];

const QUICK = flag('quick');
const PROFILE = flag('profile');
const MEM_DETAIL = flag('mem-detail');
const STRICT = flag('strict');
const ALL = ['memory', 'cc', 'login', 'jwks', 'discovery', 'sdk', 'storm', 'gateway', 'events', 'analytics', 'activity'];
const ONLY = new Set((option('only') ?? (PROFILE ? 'cc' : ALL.join(','))).split(','));
for (const part of ONLY) if (!ALL.includes(part)) throw new Error(`--only: unknown part "${part}" (use ${ALL.join(', ')})`);
/** Parts that need the two servers (the SDK part runs on its own, the storm, the gateway, the events and the activity on hubs of their own, the analytics on a database of its own). */
const SERVER_PARTS = ALL.filter((part) => !['sdk', 'storm', 'gateway', 'events', 'analytics', 'activity'].includes(part) && ONLY.has(part));

const SCALE = Number(process.env.BENCH_SCALE ?? 1) * (QUICK ? 0.4 : 1);
if (!(SCALE > 0)) throw new Error('BENCH_SCALE must be a positive number');
const ROUNDS = Math.max(1, Math.floor(Number(process.env.BENCH_ROUNDS ?? 2)));
const RAMP_MS = 300; // before each round: connections refill, not counted

/** Warm-up (not counted) and measured time per server, ms. */
interface Timing { warmupMs: number; durationMs: number }
const timing = (warmupS: number, durationS: number): Timing => ({ warmupMs: warmupS * 1000 * SCALE, durationMs: durationS * 1000 * SCALE });
const CC_TIMING = timing(4, 10);
const LOGIN_TIMING = timing(3, 10);
const DOC_TIMING = timing(1.5, 5);
const STORM_TIMING = timing(3, 10);

const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

const CC_CONCURRENCY = 16; // as the peer figures (wrk -t1 -c16)
const LOGIN_CONCURRENCY = 4;
const DOC_CONCURRENCY = 16;
const CC_SCOPE = 'leads:read';
const AUDIENCE = 'urn:nexus:sales';
const REDIRECT_URI = 'http://localhost:3001/auth/callback';
const MEMORY_TARGET_MB = 150;
const CC_TARGET_RATIO = 0.7;
const SDK_TARGET_RATIO = 0.9; // as bench/sdk-verify.ts
const SDK_TARGET_OPS = 15_000;
const STORM_TOKEN_CONCURRENCY = 8;
const STORM_LOGIN_CONCURRENCY = 8;
const STORM_P99_TARGET_MS = 50;
const BCRYPT_LIMIT_TARGET_RATIO = 0.9;

const log = (line: string) => process.stderr.write(`${line}\n`);
/** Problems seen while measuring (failed operations): printed with the results. */
const warnings: string[] = [];
/** Targets that failed, for --strict. */
const failures: string[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// --- set-up ---------------------------------------------------------------------------------

function registerRedisCleanUp(prefix: string) {
  if (!REDIS_URL) return;
  onCleanUp(`redis keys ${prefix}*`, async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  });
}

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  delete env.NEXUS_MASTER_KEY;
  return env;
}

interface Started { target: Target; child: Child; client: ClientCredentials; account: Account }

interface HubSetup { databaseUrl: string; dataDir: string; redisPrefix: string; probeDir: string }

async function prepareHub(tmp: string, dataDirName = 'hub-data'): Promise<HubSetup> {
  const redisPrefix = `nexus-bench-${randomBytes(4).toString('hex')}:`;
  registerRedisCleanUp(redisPrefix);
  return { databaseUrl: await createBenchDatabase(PG_ADMIN_URL, 'nexus_bench'), dataDir: path.join(tmp, dataDirName), redisPrefix, probeDir: tmp };
}

/** For the `nexus` command against a hub's database and master key. */
const cliEnvOf = (setup: HubSetup, extraEnv: Record<string, string> = {}) => childEnv({ DATABASE_URL: setup.databaseUrl, DATA_DIR: setup.dataDir, LOG_LEVEL: 'warn', ...extraEnv });

function hubEnv(setup: HubSetup, port: number, name: string, extraEnv: Record<string, string> = {}) {
  return childEnv({
    DATABASE_URL: setup.databaseUrl,
    DATA_DIR: setup.dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: `http://localhost:${port}`,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    CLIENTS_FILE: path.join(ROOT, 'clients.json'),
    REDIS_URL,
    REDIS_PREFIX: setup.redisPrefix,
    // Every login of the benchmark comes from 127.0.0.1 and the storm signs one account in 8
    // times at once (each attempt in flight holds a point of the login limits): far above the limits.
    AUTHORIZATIONS_PER_IP_PER_MINUTE: '1000000',
    LOGIN_MAX_FAILURES_PER_ACCOUNT: '1000',
    LOGIN_MAX_FAILURES_PER_IP: '100000',
    BENCH_MEM_PROBE_FILE: path.join(setup.probeDir, `memory-${name}.json`),
    ...extraEnv,
  });
}

const HUB_NODE_ARGS = (process.env.BENCH_HUB_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
/** Every benchmarked server gets the memory probe (inert until signalled; see mem-probe.mjs). */
const PROBE_ARGS = ['--expose-gc', '--import', path.join(ROOT, 'bench/mem-probe.mjs')];
const HUB_ENTRY = 'dist/server.js';

/**
 * The hub exactly as operators run it (`npm start` = `node dist/server.js`, compiled by `npm run
 * build`), on a fresh database; plus the inert memory probe.
 */
async function startHub(setup: HubSetup, profileDir: string | undefined, extraEnv: Record<string, string> = {}): Promise<Started> {
  if (!existsSync(path.join(ROOT, HUB_ENTRY))) throw new Error(`${HUB_ENTRY} is missing: run \`npm run build\` first (\`npm run bench\` does)`);
  const port = await freePort();
  const nodeArgs = [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ...HUB_NODE_ARGS, ...PROBE_ARGS, HUB_ENTRY];
  const child = startNode('Nexus hub', nodeArgs, { cwd: ROOT, env: hubEnv(setup, port, 'hub', extraEnv) });
  await waitUntilReady(child, port, '/readyz');

  const secrets = JSON.parse(await fs.readFile(path.join(setup.dataDir, 'client-secrets.json'), 'utf8')) as Record<string, string>;
  if (!secrets.sales) throw new Error('the hub did not write a secret for client "sales"');
  const account = { email: `bench-${randomBytes(3).toString('hex')}@example.com`, password: randomBytes(12).toString('base64url') };
  await runNode(['--import', 'tsx', 'bench/create-user.ts'], {
    cwd: ROOT,
    env: childEnv({ DATABASE_URL: setup.databaseUrl, DATA_DIR: setup.dataDir, BENCH_EMAIL: account.email, BENCH_PASSWORD: account.password }),
  });
  return {
    target: { name: 'Nexus hub', port, issuer: `http://localhost:${port}`, host: `localhost:${port}`, pid: child.pid, agent: keepAliveAgent(CC_CONCURRENCY) },
    child,
    client: { clientId: 'sales', secret: secrets.sales, redirectUri: REDIRECT_URI },
    account,
  };
}

/** Resident memory by kind of mapping (from /proc/<pid>/smaps), MB. */
async function mappings(pid: number): Promise<string> {
  const totals = new Map<string, number>();
  let kind = 'anonymous';
  for (const line of (await fs.readFile(`/proc/${pid}/smaps`, 'utf8')).split('\n')) {
    const header = line.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/);
    if (header) kind = !header[1] ? 'anonymous' : header[1].startsWith('/') ? 'files' : header[1];
    const rss = line.match(/^Rss:\s+(\d+) kB/);
    if (rss) totals.set(kind, (totals.get(kind) ?? 0) + Number(rss[1]) / 1024);
  }
  return `resident: ${[...totals].filter(([, mb]) => mb >= 0.5).sort((a, b) => b[1] - a[1]).map(([k, mb]) => `${k} ${mb.toFixed(1)}`).join(', ')} MB`;
}

/**
 * Asks a probed process for full garbage collections (SIGUSR2, see mem-probe.mjs) and returns its
 * RSS afterwards with a one-line breakdown. Two rounds 1.5 s apart: the first frees the garbage,
 * the second (after V8's background sweeper is done) releases more of the emptied pages (another
 * ~10 MB for the hub in a trace on this machine). Readings still vary by about ±10 MB between runs.
 */
async function probeMemory(child: Child, file: string): Promise<{ rss: number; detail: string }> {
  const collect = async () => {
    await fs.rm(file, { force: true });
    child.process.kill('SIGUSR2');
    for (let i = 0; i < 50; i++) {
      await sleep(100);
      const text = await fs.readFile(file, 'utf8').catch(() => undefined);
      if (text) return JSON.parse(text) as { gc: boolean; usage: Record<string, number>; spaces: Record<string, { size: number; used: number }>; code: Record<string, number> };
    }
    throw new Error(`no memory reading from pid ${child.pid} (probe did not answer)`);
  };
  await collect();
  await sleep(1500);
  const probe = await collect();
  await sleep(1500); // V8 unmaps freed pages on a background thread
  if (!probe.gc) throw new Error('the memory probe could not collect garbage (started without --expose-gc?)');
  const spaces = Object.entries(probe.spaces).filter(([, v]) => v.size >= 0.5).map(([k, v]) => `${k} ${v.used}/${v.size}`).join(', ');
  const usage = Object.entries(probe.usage).filter(([k]) => k !== 'rss').map(([k, v]) => `${k} ${v}`).join(', ');
  return {
    rss: memoryMb(child.pid).rss,
    detail: `${await mappings(child.pid)}; V8 main thread after GC: ${usage} MB; heap spaces used/size MB: ${spaces}; code ${probe.code.codeAndMetadata} MB, bytecode ${probe.code.bytecodeAndMetadata} MB`,
  };
}

/**
 * bench/bare-provider.ts as plain JavaScript, so that the baseline runs without a loader too:
 * type-only transpilation (typescript's transpileModule, no type check) into a scratch .mjs,
 * next to a link to the project's node_modules so its imports resolve.
 */
async function compileBare(tmp: string): Promise<string> {
  const { default: ts } = await import('typescript'); // large: loaded only here
  const dir = path.join(tmp, 'bare');
  await fs.mkdir(dir, { recursive: true });
  const source = await fs.readFile(path.join(ROOT, 'bench/bare-provider.ts'), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, esModuleInterop: true, isolatedModules: true, sourceMap: false },
    fileName: 'bare-provider.ts',
  });
  await fs.symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const entry = path.join(dir, 'bare-provider.mjs');
  await fs.writeFile(entry, outputText);
  return entry;
}

async function startBare(tmp: string): Promise<Started> {
  const probeDir = tmp;
  const entry = await compileBare(tmp);
  const port = await freePort();
  const secret = randomBytes(32).toString('base64url');
  const account = { email: 'bench@example.com', password: randomBytes(12).toString('base64url') };
  const env = childEnv({
    BARE_PORT: String(port), BARE_CLIENT_SECRET: secret, BARE_USER_EMAIL: account.email, BARE_USER_PASSWORD: account.password,
    NODE_ENV: 'production', BENCH_MEM_PROBE_FILE: path.join(probeDir, 'memory-bare.json'),
  });
  const child = startNode('bare oidc-provider', [...PROBE_ARGS, entry], { cwd: ROOT, env });
  await waitUntilReady(child, port, '/.well-known/openid-configuration');
  return {
    target: { name: 'bare oidc-provider', port, issuer: `http://localhost:${port}`, host: `localhost:${port}`, pid: child.pid, agent: keepAliveAgent(CC_CONCURRENCY) },
    child,
    client: { clientId: 'sales', secret, redirectUri: REDIRECT_URI },
    account,
  };
}

// --- measuring ------------------------------------------------------------------------------

interface Measured { stats: Stats; generatorCores: number }

/**
 * Warms each server up, then measures them in alternating rounds (hub, bare, hub, bare...) so
 * that a background disturbance hits both rather than one.
 */
async function compare(title: string, runs: Array<{ key: string; target: Target; operation: Operation }>, concurrency: number, { warmupMs, durationMs }: Timing): Promise<Map<string, Measured>> {
  for (const run of runs) {
    log(`  ${title}: warming up ${run.key}`);
    await closedLoop({ concurrency, warmupMs, durationMs: 0, operation: run.operation, serverPid: run.target.pid });
  }
  const windows = new Map<string, Window[]>(runs.map((r) => [r.key, []]));
  const generatorCpu = new Map<string, number>(runs.map((r) => [r.key, 0]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const run of runs) {
      log(`  ${title}: ${run.key}, round ${round}/${ROUNDS}`);
      const before = process.cpuUsage();
      windows.get(run.key)!.push(await closedLoop({ concurrency, warmupMs: RAMP_MS, durationMs: durationMs / ROUNDS, operation: run.operation, serverPid: run.target.pid }));
      const used = process.cpuUsage(before);
      generatorCpu.set(run.key, generatorCpu.get(run.key)! + (used.user + used.system) / 1000);
    }
  }
  return new Map(runs.map((r) => {
    const stats = summarize(windows.get(r.key)!);
    if (stats.errors) warnings.push(`${title} / ${r.key}: ${stats.errors} failed operations, first: ${stats.firstError}`);
    return [r.key, { stats, generatorCores: generatorCpu.get(r.key)! / (durationMs + ROUNDS * RAMP_MS) }];
  }));
}

/** Brings a server to its steady state: a few of each operation, then a pause. */
async function warmUp(started: Started) {
  const { target, client, account } = started;
  await closedLoop({ concurrency: 4, warmupMs: 0, durationMs: 1500, operation: () => clientCredentialsGrant(target, client, CC_SCOPE).then(() => undefined), serverPid: target.pid });
  for (let i = 0; i < 3; i++) await loginFlow(target, client, account);
  await closedLoop({ concurrency: 4, warmupMs: 0, durationMs: 500, operation: () => getOk(target, '/jwks'), serverPid: target.pid });
  await closedLoop({ concurrency: 4, warmupMs: 0, durationMs: 500, operation: () => getOk(target, '/.well-known/openid-configuration'), serverPid: target.pid });
}

// --- report ---------------------------------------------------------------------------------

interface Row { test: string; hub: string; bare: string; ratio: string; target: string }

function textTable(rows: Row[]): string {
  const headers: Row = { test: 'test', hub: 'Nexus hub', bare: 'bare oidc-provider', ratio: 'hub/bare', target: 'target' };
  const all = [headers, ...rows];
  const width = (key: keyof Row) => Math.max(...all.map((r) => r[key].length));
  const line = (r: Row) => `${r.test.padEnd(width('test'))}  ${r.hub.padStart(width('hub'))}  ${r.bare.padStart(width('bare'))}  ${r.ratio.padStart(width('ratio'))}  ${r.target}`;
  const rule = '-'.repeat(line(headers).length);
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

function markdownTable(rows: Row[]): string {
  return [
    '| test | Nexus hub | bare oidc-provider | hub/bare | target |',
    '| --- | ---: | ---: | ---: | --- |',
    ...rows.map((r) => `| ${r.test.startsWith('  ') ? `↳ ${r.test.trim()}` : r.test} | ${r.hub} | ${r.bare} | ${r.ratio} | ${r.target} |`),
  ].join('\n');
}

// --- the SDK verifier (bench/sdk-verify.ts) ----------------------------------------------------

/** What bench/sdk-verify.ts writes to $SDK_BENCH_RESULT_FILE. */
interface SdkResult {
  sdk: number; raw: number; keyObject: number; ratio: number;
  sdkPerCpuSecond: number; rawPerCpuSecond: number;
  rounds: number; roundMs: number; jwksRequests: number; pinning: string; loadavg: number[];
}

/**
 * Runs `node --import tsx bench/sdk-verify.ts` (it pins itself to one core with taskset) while
 * nothing else of the benchmark runs; its own report goes to stderr as progress.
 */
async function runSdkVerify(tmp: string): Promise<SdkResult> {
  const file = path.join(tmp, 'sdk-verify.json');
  let partial = ''; // output arrives in chunks: prefix whole lines only
  await runNode(['--import', 'tsx', 'bench/sdk-verify.ts', ...(QUICK ? ['--quick'] : [])], {
    cwd: ROOT,
    env: childEnv({ SDK_BENCH_RESULT_FILE: file }),
    onOutput: (text) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      for (const line of lines) log(line ? `  sdk | ${line}` : '');
    },
  });
  if (partial) log(`  sdk | ${partial}`);
  return JSON.parse(await fs.readFile(file, 'utf8')) as SdkResult;
}

// --- main -----------------------------------------------------------------------------------

const HUB_DESCRIPTION = '`node dist/server.js` (the `npm run build` output, as `npm start`; NODE_ENV=production, LOG_LEVEL=warn, PostgreSQL + Redis on loopback)';
const BARE_DESCRIPTION = 'oidc-provider alone (in-memory adapter, static client, same RSA-2048 RS256 JWT access tokens), bench/bare-provider.ts transpiled to plain JavaScript and run with `node`, no loader either';

async function main() {
  const started = Date.now();
  const cpus = os.cpus();
  const providerVersion = (JSON.parse(await fs.readFile(path.join(ROOT, 'node_modules/oidc-provider/package.json'), 'utf8')) as { version: string }).version;
  const facts = [
    `node ${process.version}, ${cpus.length} CPU(s) (${cpus[0]?.model.trim() ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.platform()} ${os.release()}`,
    `oidc-provider ${providerVersion}; load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    `parts: ${[...SERVER_PARTS, ...['storm', 'gateway', 'events', 'activity', 'analytics', 'sdk'].filter((part) => ONLY.has(part))].join(', ')}`,
  ];
  if (SERVER_PARTS.length) {
    facts.push(`load generator: this process, node:http keep-alive, closed loop; per test and server ${fmt(CC_TIMING.warmupMs / 1000, 1)} s warm-up + ${fmt(CC_TIMING.durationMs / 1000, 1)} s measured ` +
      `(logins ${fmt(LOGIN_TIMING.warmupMs / 1000, 1)} + ${fmt(LOGIN_TIMING.durationMs / 1000, 1)} s, JWKS/discovery ${fmt(DOC_TIMING.warmupMs / 1000, 1)} + ${fmt(DOC_TIMING.durationMs / 1000, 1)} s), in ${ROUNDS} alternating rounds`);
  }
  console.log('Nexus benchmark');
  for (const line of facts) console.log(`  ${line}`);
  if (os.loadavg()[0] > cpus.length * 0.5) console.log(`  WARNING: the machine is already busy (load ${os.loadavg()[0].toFixed(2)}); numbers will be low and noisy`);

  const tmp = await makeTempDir(path.join(os.tmpdir(), 'nexus-bench-'));
  let profileDir: string | undefined;
  if (PROFILE && (SERVER_PARTS.length || ONLY.has('gateway') || ONLY.has('events'))) {
    profileDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-bench-profile-'));
    console.log(`  profiling the hub: --cpu-prof into ${profileDir} (kept; memory and throughput figures are affected)`);
  }

  const rows: Row[] = [];
  const notes: string[] = [];
  const memoryNotes: string[] = [];
  const descriptions: string[] = [];
  const summaryLines: string[] = [];
  /** A part's lines go with the run's own (its tables are printed where the part's turn comes). */
  const collect = (part: PartReport) => {
    notes.push(...part.notes);
    warnings.push(...part.warnings);
    failures.push(...part.failures);
    descriptions.push(...part.descriptions);
    summaryLines.push(...part.summaryLines);
  };

  if (SERVER_PARTS.length) {
    log('starting the hub and the bare provider...');
    const setup = await prepareHub(tmp);
    const hub = await startHub(setup, profileDir);
    const bare = await startBare(tmp);
    const startupRss = { hub: memoryMb(hub.target.pid).rss, bare: memoryMb(bare.target.pid).rss };

    // Sanity: both sign the same kind of token, and both complete a login.
    const checks: string[] = [];
    for (const s of [hub, bare]) {
      const { header, payload } = await verifyJwt(s.target, await clientCredentialsGrant(s.target, s.client, CC_SCOPE), AUDIENCE);
      const tokens = await loginFlow(s.target, s.client, s.account);
      const id = await verifyJwt(s.target, tokens.id_token!, s.client.clientId);
      const at = await verifyJwt(s.target, tokens.access_token!, AUDIENCE);
      checks.push(`${s.target.name.padEnd(19)} client_credentials: ${header.alg} typ=${header.typ} aud=${String(payload.aud)} scope="${String(payload.scope)}" claims=${Object.keys(payload).sort().join(',')}; ` +
        `login: id_token ${id.header.alg} sub=${String(id.payload.sub).slice(0, 8)}…, access token ${at.header.alg} aud=${String(at.payload.aud)} role=${String(at.payload.role)} — signatures verified`);
    }
    console.log('\nToken check (verified against each server\'s own JWKS):');
    for (const line of checks) console.log(`  ${line}`);

    const memory = { hub: { startup: startupRss.hub, busy: Number.NaN, idle: Number.NaN }, bare: { startup: startupRss.bare, busy: Number.NaN, idle: Number.NaN } };

    if (ONLY.has('memory')) {
      log('warm-up for the memory reading...');
      for (const s of [hub, bare]) await warmUp(s);
      // Right after the warm-up, V8 still holds its garbage and a grown young generation; its
      // memory reducer gives that back some 10 s later on a quiet machine, or not at all when the
      // machine is busy. So: one reading 3 s after the warm-up, then the idle reading after full
      // GCs in each process (what the memory reducer would have done).
      await sleep(3000);
      const probed = { hub: hub.child, bare: bare.child };
      const keys = Object.keys(probed) as Array<keyof typeof probed>;
      for (const key of keys) memory[key].busy = memoryMb(probed[key].pid).rss;
      // V8 shrinks its young generation only when the allocation rate over the last ~5 s is low:
      // collect after 7 s of quiet.
      await sleep(4000);
      log('full GC in each process, then the idle reading...');
      const names = { hub: 'Nexus hub', bare: 'bare oidc-provider' };
      const readings = await Promise.all(keys.map((key) => probeMemory(probed[key], path.join(tmp, `memory-${key}.json`))));
      keys.forEach((key, i) => {
        memory[key].idle = readings[i].rss;
        if (MEM_DETAIL) memoryNotes.push(`${names[key]} at the idle reading: ${readings[i].detail}`);
      });
    }

    const cc = (s: Started): Operation => () => clientCredentialsGrant(s.target, s.client, CC_SCOPE).then(() => undefined);
    const ratioRow = (test: string, hubValue: number, bareValue: number, digits = 0, target = '') => ({
      test, hub: fmt(hubValue, digits), bare: fmt(bareValue, digits), ratio: pct(hubValue / bareValue), target,
    });

    if (ONLY.has('cc')) {
      log('client_credentials...');
      const r = await compare('client_credentials', [{ key: 'hub', target: hub.target, operation: cc(hub) }, { key: 'bare', target: bare.target, operation: cc(bare) }], CC_CONCURRENCY, CC_TIMING);
      const h = r.get('hub')!.stats;
      const b = r.get('bare')!.stats;
      const ratio = h.perSecond / b.perSecond;
      if (!(ratio >= CC_TARGET_RATIO)) failures.push(`client_credentials at ${pct(ratio)} of bare`);
      rows.push({ ...ratioRow(`client_credentials RS256 JWT, c=${CC_CONCURRENCY}: tokens/s`, h.perSecond, b.perSecond), target: `≥ ${CC_TARGET_RATIO * 100}% of bare: ${ratio >= CC_TARGET_RATIO ? 'PASS' : 'FAIL'}` });
      rows.push({ test: '  latency p50 / p99 (ms)', hub: `${ms(h.p50)} / ${ms(h.p99)}`, bare: `${ms(b.p50)} / ${ms(b.p99)}`, ratio: '', target: '' });
      rows.push({ ...ratioRow('  server CPU per token (ms)', h.cpuPerOp, b.cpuPerOp, 3), target: `per CPU-second: hub ${pct(b.cpuPerOp / h.cpuPerOp)} of bare (servers busy ${fmt(h.cpuCores, 2)} / ${fmt(b.cpuCores, 2)} cores)` });
      notes.push(`client_credentials: load generator used ${fmt(r.get('hub')!.generatorCores, 2)} core(s) against the hub, ${fmt(r.get('bare')!.generatorCores, 2)} against bare; errors ${h.errors} / ${b.errors}`);
    }

    if (ONLY.has('login')) {
      log('login flows...');
      const nobcrypt = { ...bare.account, email: `nobcrypt+${bare.account.email}` };
      const r = await compare('login', [
        { key: 'hub', target: hub.target, operation: () => loginFlow(hub.target, hub.client, hub.account).then(() => undefined) },
        { key: 'bare', target: bare.target, operation: () => loginFlow(bare.target, bare.client, bare.account).then(() => undefined) },
        { key: 'bare-nobcrypt', target: bare.target, operation: () => loginFlow(bare.target, bare.client, nobcrypt).then(() => undefined) },
      ], LOGIN_CONCURRENCY, LOGIN_TIMING);
      const h = r.get('hub')!.stats;
      const b = r.get('bare')!.stats;
      const n = r.get('bare-nobcrypt')!.stats;
      rows.push(ratioRow(`login flow (PKCE, bcrypt cost 11), c=${LOGIN_CONCURRENCY}: logins/s`, h.perSecond, b.perSecond, 1));
      rows.push({ test: '  latency p50 / p99 (ms)', hub: `${ms(h.p50)} / ${ms(h.p99)}`, bare: `${ms(b.p50)} / ${ms(b.p99)}`, ratio: '', target: '' });
      rows.push({ ...ratioRow('  server CPU per login (ms)', h.cpuPerOp, b.cpuPerOp, 1), target: `per CPU-second: hub ${pct(b.cpuPerOp / h.cpuPerOp)} of bare (hub's PostgreSQL CPU not counted)` });
      rows.push({ test: `login flow without bcrypt, c=${LOGIN_CONCURRENCY}: logins/s`, hub: 'n/a', bare: fmt(n.perSecond, 1), ratio: '', target: `bare only; p50 ${ms(n.p50)} ms, ${fmt(n.cpuPerOp, 1)} ms CPU/login` });
      notes.push(`login: 5 HTTP requests per flow (GET /auth, GET login page, POST credentials, GET /auth/<uid>, POST /token; first-party consent is completed with the grant, no consent step); errors ${h.errors} / ${b.errors} / ${n.errors}`);
    }

    for (const [part, label, docPath] of [['jwks', 'JWKS', '/jwks'], ['discovery', 'discovery', '/.well-known/openid-configuration']] as const) {
      if (!ONLY.has(part)) continue;
      log(`${label}...`);
      const r = await compare(label, [
        { key: 'hub', target: hub.target, operation: () => getOk(hub.target, docPath) },
        { key: 'bare', target: bare.target, operation: () => getOk(bare.target, docPath) },
      ], DOC_CONCURRENCY, DOC_TIMING);
      const h = r.get('hub')!.stats;
      const b = r.get('bare')!.stats;
      rows.push({ ...ratioRow(`${label} GET, c=${DOC_CONCURRENCY}: req/s`, h.perSecond, b.perSecond), target: `p50 ${ms(h.p50)} / ${ms(b.p50)} ms` });
    }

    const after = { hub: memoryMb(hub.target.pid), bare: memoryMb(bare.target.pid) };
    if (ONLY.has('memory')) {
      if (!(memory.hub.idle < MEMORY_TARGET_MB)) failures.push(`idle RSS ${fmt(memory.hub.idle)} MB`);
      rows.push({
        test: 'idle RSS after start-up + warm-up, after a full GC (MB)', hub: fmt(memory.hub.idle), bare: fmt(memory.bare.idle), ratio: '',
        target: `hub < ${MEMORY_TARGET_MB} MB: ${memory.hub.idle < MEMORY_TARGET_MB ? 'PASS' : 'FAIL'}`,
      });
      rows.push({ test: '  RSS 3 s after the warm-up, before GC (MB)', hub: fmt(memory.hub.busy), bare: fmt(memory.bare.busy), ratio: '', target: 'garbage and young generation not yet returned' });
    }
    rows.push({ test: 'RSS right after start-up / at the end / peak (MB)', hub: `${fmt(startupRss.hub)} / ${fmt(after.hub.rss)} / ${fmt(after.hub.peak)}`, bare: `${fmt(startupRss.bare)} / ${fmt(after.bare.rss)} / ${fmt(after.bare.peak)}`, ratio: '', target: '' });

    // The servers are done: stop them (the hub writes its CPU profile on exit) so that the SDK
    // part has the machine to itself.
    log('stopping the servers...');
    await hub.child.stop();
    await bare.child.stop();

    descriptions.push(
      `The hub runs as ${HUB_DESCRIPTION};`,
      `bare = ${BARE_DESCRIPTION}.`,
      'Both also get `--expose-gc --import bench/mem-probe.mjs`: inert until the idle memory reading forces a full GC.',
      'Both servers and the load generator share this machine\'s CPUs; "server CPU per op" is the server process\'s own CPU time.',
    );
    summaryLines.push(
      `- Load: closed loop on 127.0.0.1 from one Node process (keep-alive), hub and bare measured in alternating rounds; concurrency ${CC_CONCURRENCY} for tokens and documents, ${LOGIN_CONCURRENCY} for logins.`,
      '- Hub: `node dist/server.js` (compiled by `npm run build`, exactly as `npm start`), PostgreSQL and Redis on loopback, `NODE_ENV=production`, `LOG_LEVEL=warn`. Bare: oidc-provider alone, in-memory adapter, one static client, same RSA-2048 RS256 JWT access tokens, also plain JavaScript under `node` (no loader on either side).',
      '- Login flow: authorization request with PKCE → login page → POST credentials → redirects → code → token exchange (5 requests); one bcrypt cost-11 check (bcryptjs) on both sides; first-party consent completed with the grant (no consent step) on both sides.',
      '- Idle RSS: after a short warm-up, following a full GC forced through a preloaded probe (`--expose-gc`), i.e. what V8\'s memory reducer returns after ~10 s of idleness on a quiet machine.',
    );
  }

  if (ONLY.has('storm')) {
    // Timed before the storm's hub starts and after the other servers stopped: one core, nothing else of the benchmark running.
    log('login storm: bcryptjs comparisons at cost 11 on one core...');
    const limit = measureBcrypt();
    log('login storm: starting a hub of its own...');
    const stormHub = await startHub(await prepareHub(tmp, 'storm-hub-data'), undefined);
    await warmUp(stormHub);
    const { target, client, account } = stormHub;
    const { quiet, storm, loginsAlone } = await loginStorm({
      tokens: () => clientCredentialsGrant(target, client, CC_SCOPE).then(() => undefined),
      login: () => loginFlow(target, client, account).then(() => undefined),
      serverPid: target.pid, tokenConcurrency: STORM_TOKEN_CONCURRENCY, loginConcurrency: STORM_LOGIN_CONCURRENCY, ...STORM_TIMING, log,
    });
    await stormHub.child.stop();

    const p99Pass = storm.tokens.p99 < STORM_P99_TARGET_MS;
    const limitRatio = loginsAlone.perSecond / limit.loginsPerSecond;
    const limitPass = limitRatio >= BCRYPT_LIMIT_TARGET_RATIO;
    if (!p99Pass) failures.push(`token p99 ${ms(storm.tokens.p99)} ms during the login storm`);
    if (!limitPass) failures.push(`logins at ${pct(limitRatio)} of the bcrypt limit`);
    rows.push({
      test: `login storm: client_credentials c=${STORM_TOKEN_CONCURRENCY}, quiet → with logins at c=${STORM_LOGIN_CONCURRENCY}: tokens/s`,
      hub: `${fmt(quiet.perSecond)} → ${fmt(storm.tokens.perSecond)}`, bare: '', ratio: pct(storm.tokens.perSecond / quiet.perSecond), target: '',
    });
    rows.push({
      test: '  token latency p50 / p99, quiet → storm (ms)', hub: `${ms(quiet.p50)} / ${ms(quiet.p99)} → ${ms(storm.tokens.p50)} / ${ms(storm.tokens.p99)}`, bare: '', ratio: '',
      target: `p99 < ${STORM_P99_TARGET_MS} ms during the storm: ${p99Pass ? 'PASS' : 'FAIL'}`,
    });
    rows.push({ test: '  logins/s during the storm', hub: fmt(storm.logins.perSecond, 1), bare: '', ratio: '', target: `latency p50 / p99 ${ms(storm.logins.p50)} / ${ms(storm.logins.p99)} ms` });
    rows.push({
      test: `logins alone, c=${STORM_LOGIN_CONCURRENCY}: logins/s vs bcrypt limit`, hub: fmt(loginsAlone.perSecond, 1), bare: '', ratio: pct(limitRatio),
      target: `≥ ${BCRYPT_LIMIT_TARGET_RATIO * 100}% of ${limit.cores} cores × 1/${ms(limit.compareCpuMs)} ms = ${fmt(limit.loginsPerSecond, 1)}/s: ${limitPass ? 'PASS' : 'FAIL'}`,
    });
    // Per CPU-second the figure does not depend on how much of the machine the hub got.
    rows.push({
      test: '  hub CPU per login (ms)', hub: fmt(loginsAlone.cpuPerOp, 1), bare: '', ratio: pct(limit.compareCpuMs / loginsAlone.cpuPerOp),
      target: `per CPU-second, of the bcrypt limit; bcrypt ${ms(limit.compareCpuMs)} ms of it (${ms(limit.compareWallMs)} ms wall); hub busy ${fmt(loginsAlone.cpuCores, 2)} cores`,
    });
    const errors = [quiet.errors, storm.tokens.errors, storm.logins.errors, loginsAlone.errors];
    for (const [name, stats] of [['quiet tokens', quiet], ['storm tokens', storm.tokens], ['storm logins', storm.logins], ['logins alone', loginsAlone]] as const) {
      if (stats.errors) warnings.push(`login storm / ${name}: ${stats.errors} failed operations, first: ${stats.firstError}`);
    }
    notes.push(`login storm: one window each (${fmt(STORM_TIMING.warmupMs / 1000, 1)} s warm-up + ${fmt(STORM_TIMING.durationMs / 1000, 1)} s), errors ${errors.join(' / ')}; load average after it ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; bcrypt limit from the median of 6 synchronous bcryptjs comparisons at cost 11 in the load generator before the hub started`);
    descriptions.push(`Login storm: a hub of its own (${HUB_DESCRIPTION}, default PASSWORD_WORKERS = ${limit.cores} cores); logins are the full PKCE flow above; "hub CPU per login" includes its password threads but not PostgreSQL's CPU.`);
    summaryLines.push(`- Login storm: client_credentials at c=${STORM_TOKEN_CONCURRENCY} alone, then together with full login flows at c=${STORM_LOGIN_CONCURRENCY}, then logins alone; the bcrypt limit is cores × 1/(one bcryptjs cost-11 comparison on one core), timed in the same run.`);
  }

  let gateway: Awaited<ReturnType<typeof gatewayBench>> | undefined;
  if (ONLY.has('gateway')) {
    log('gateway: the upstream directly, nginx, a bare undici proxy and the hub\'s gateway (bench/gateway.ts)...');
    const setup = await prepareHub(tmp, 'gateway-hub-data');
    gateway = await gatewayBench({
      root: ROOT, tmp, scale: SCALE, rounds: ROUNDS, log, childEnv,
      startHub: async (extraEnv) => ({
        ...(await startHub(setup, SERVER_PARTS.length ? undefined : profileDir, extraEnv)),
        cliEnv: cliEnvOf(setup, extraEnv),
      }),
    });
    collect(gateway);
  }

  let events: Awaited<ReturnType<typeof eventsBench>> | undefined;
  if (ONLY.has('events')) {
    log('events: accepting next to pgbench, the drain, POST → webhook latency, tokens while the bus runs (bench/events.ts)...');
    const setup = await prepareHub(tmp, 'events-hub-data');
    // Profiled only when no earlier part was (one profile directory, the largest profile is summarised).
    const profileEvents = !SERVER_PARTS.length && !ONLY.has('gateway') ? profileDir : undefined;
    events = await eventsBench({
      root: ROOT, tmp, scale: SCALE, rounds: ROUNDS, log, childEnv, databaseUrl: setup.databaseUrl,
      startHub: (extraEnv) => startHub(setup, profileEvents, extraEnv),
    });
    collect(events);
  }

  let activity: Awaited<ReturnType<typeof activityBench>> | undefined;
  if (ONLY.has('activity')) {
    log('activity: tokens and refreshes with activity recording vs ANALYTICS_ACTIVITY=false (bench/activity.ts)...');
    const setup = await prepareHub(tmp, 'activity-hub-data');
    activity = await activityBench({
      root: ROOT, tmp, scale: SCALE, rounds: ROUNDS, log, childEnv, databaseUrl: setup.databaseUrl, cliEnv: cliEnvOf(setup),
      startHub: (extraEnv) => startHub(setup, undefined, extraEnv),
    });
    collect(activity);
  }

  // No hub: the queries on a seeded database of their own.
  let analytics: Awaited<ReturnType<typeof analyticsBench>> | undefined;
  if (ONLY.has('analytics')) {
    log('analytics: 1,000,000 activity rows seeded, every /api/analytics query timed (bench/analytics.ts)...');
    analytics = await analyticsBench();
    failures.push(...analytics.failures);
  }

  if (ONLY.has('sdk')) {
    log(`SDK verifier vs raw jose (bench/sdk-verify.ts, one core, about ${QUICK ? 10 : 30} s)...`);
    const r = await runSdkVerify(tmp);
    const ratioPass = r.ratio >= SDK_TARGET_RATIO;
    const opsPass = r.sdk >= SDK_TARGET_OPS;
    if (!ratioPass) failures.push(`SDK at ${pct(r.ratio)} of raw jose`);
    if (!opsPass) failures.push(`SDK ${fmt(r.sdk)} verifications/s`);
    if (r.jwksRequests !== 1) failures.push(`SDK fetched the JWKS ${r.jwksRequests} times`);
    const thousands = (n: number) => Math.round(n).toLocaleString('en-US');
    rows.push({
      test: 'SDK verifier vs raw jose, RS256, 1 core: verifications/s',
      hub: `SDK ${thousands(r.sdk)}`, bare: `raw jose ${thousands(r.raw)}`, ratio: pct(r.ratio),
      target: `≥ ${SDK_TARGET_RATIO * 100}% of raw jose: ${ratioPass ? 'PASS' : 'FAIL'}; ≥ ${thousands(SDK_TARGET_OPS)}/s: ${opsPass ? 'PASS' : 'FAIL'}`,
    });
    rows.push({
      test: '  verifications per CPU-second', hub: `SDK ${thousands(r.sdkPerCpuSecond)}`, bare: `raw jose ${thousands(r.rawPerCpuSecond)}`, ratio: pct(r.sdkPerCpuSecond / r.rawPerCpuSecond),
      target: `JWKS fetched ${r.jwksRequests}× (expected once)`,
    });
    notes.push(`SDK: medians of ${r.rounds} rounds × ${r.roundMs} ms per contender, sequential, ${r.pinning}; ratio = median of per-round ratios; raw jose with a KeyObject ${thousands(r.keyObject)}/s; load average while measuring ${r.loadavg.map((l) => l.toFixed(2)).join(' ')}`);
    descriptions.push('SDK = `createVerifier({ issuer, audience }).verify(token)` (@nexus/auth, JWKS fetched once from a local server and cached) vs `jose.jwtVerify` with the same CryptoKey and options; run on its own with no server running; its full report is above (lines `sdk |`); standalone: `npx tsx bench/sdk-verify.ts`.');
    summaryLines.push('- SDK: `createVerifier().verify` vs raw `jose.jwtVerify` (same RS256 token, key and options), sequential on one core (`taskset -c 0`, `UV_THREADPOOL_SIZE=1`), medians of interleaved rounds; standalone: `npx tsx bench/sdk-verify.ts`.');
  } else {
    descriptions.push('The SDK verifier benchmark was not run (--only): `npm run bench -- --only=sdk`, or `npx tsx bench/sdk-verify.ts`.');
  }

  console.log(`\nResults (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  if (rows.length) console.log(textTable(rows));
  if (gateway) console.log(`${rows.length ? '\n' : ''}Gateway (bench/gateway.ts)\n\n${gateway.text}`);
  if (events) console.log(`${rows.length || gateway ? '\n' : ''}Event bus (bench/events.ts)\n\n${events.text}`);
  if (activity) console.log(`${rows.length || gateway || events ? '\n' : ''}Activity recording on the token path (bench/activity.ts)\n\n${activity.text}`);
  if (analytics) console.log(`\nAnalytics (bench/analytics.ts)\n\n${analytics.text}`);
  console.log('');
  for (const note of [...notes, ...memoryNotes]) console.log(`  ${note}`);
  for (const warning of warnings) console.log(`  WARNING: ${warning}`);
  for (const line of descriptions) console.log(`  ${line}`);

  console.log('\nSummary (markdown)\n');
  console.log(`Measured with \`npm run bench\` on ${cpus.length} CPU(s), node ${process.version}, oidc-provider ${providerVersion}, ${new Date().toISOString().slice(0, 10)}.\n`);
  if (rows.length) console.log(markdownTable(rows));
  if (gateway) console.log(`${rows.length ? '\n' : ''}${gateway.markdown}`);
  if (events) console.log(`${rows.length || gateway ? '\n' : ''}${events.markdown}`);
  if (activity) console.log(`${rows.length || gateway || events ? '\n' : ''}${activity.markdown}`);
  console.log(['', ...summaryLines].join('\n'));

  if (profileDir) {
    // One profile per thread (the hub's main thread is the only one running JavaScript); the largest.
    const files = await Promise.all((await fs.readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile')).map(async (f) => ({ file: path.join(profileDir!, f), size: (await fs.stat(path.join(profileDir!, f))).size })));
    const main = files.sort((a, b) => b.size - a.size)[0];
    console.log(main ? `\n${summarizeProfile(main.file)}` : `\nno CPU profile was written in ${profileDir}`);
  }
}

try {
  await main();
  if (STRICT && failures.length) {
    process.stderr.write(`\ntargets missed: ${failures.join('; ')}\n`);
    process.exitCode = 2;
  }
} catch (error) {
  process.exitCode = 1;
  process.stderr.write(`\nbenchmark failed: ${(error as Error).stack ?? error}\n${childOutputs()}\n`);
} finally {
  await cleanUp();
}
// Keep-alive sockets and timers must not hold the process open.
process.exit(process.exitCode ?? 0);
