// The gateway part of `npm run bench` (`--only=gateway`): four servers in front of the same small
// upstream (bench/gateway-upstream.mjs), measured side by side in alternating rounds:
//   1. the upstream directly;
//   2. Debian nginx as a plain `proxy_pass` with upstream keep-alive (installed from apt when
//      missing, run on a loopback port with its own configuration in a scratch directory);
//   3. a bare Node proxy on undici (bench/undici-proxy.mjs: keep-alive Pool, no auth), the limit
//      for a Node gateway;
//   4. the hub's gateway (`/api/gateway/sales/*`: credential check, rate limit, headers, signed
//      assertion), once with a user's JWT from the real login flow and once with an API key.
// The load generator is wrk (installed from apt when missing; -t1, keep-alive, c=16 like the
// issue's figures) or, without it, the Node closed loop of bench/load.ts (BENCH_GENERATOR=node
// forces it; it saturates well below the direct and nginx rates, which the report then says).
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { keepAliveAgent, send, type Target } from './http.js';
import { closedLoop, cpuTimeMs } from './load.js';
import { loginFlow, type Account, type ClientCredentials } from './flows.js';
import { freePort, onCleanUp, runNode, startNode, waitUntilReady, type Child } from './processes.js';
import { markdownTable, textTable } from './tables.js';
import { emptyReport, type PartDeps, type PartReport } from './part.js';
import { fmt, pct } from './format.js';

export interface GatewayHub {
  target: Target;
  child: Child;
  client: ClientCredentials;
  account: Account;
  /** Environment for the `nexus` CLI against this hub's database and master key. */
  cliEnv: NodeJS.ProcessEnv;
}

/** startHub: a fresh database and bench account each call. */
export type GatewayDeps = PartDeps<GatewayHub>;

const CONCURRENCY = 16; // as the issue's figures (wrk c=16)
const PROJECT = 'sales';
const GATEWAY_PREFIX = `/api/gateway/${PROJECT}`;
const RESOURCE = '/leads?status=qualified';
const THROUGHPUT_TARGET = 0.6; // of the bare undici proxy
const P50_TARGET_MS = 0.5; // above the bare undici proxy's
const WARMUP_S = 2;
const MEASURE_S = 12; // per contender, split over the rounds

interface Contender {
  key: string;
  label: string;
  port: number;
  host: string;
  path: string;
  headers: Record<string, string>;
  /** Processes whose CPU is "the server's" (nginx: its workers and master). */
  pids: () => number[];
  /** Whether requests also cost the upstream (all but the direct row). */
  proxied: boolean;
}

interface Sample {
  requests: number;
  seconds: number;
  p50: number;
  p99: number;
  errors: number;
  firstError: string | undefined;
  serverCpuMs: number;
  upstreamCpuMs: number;
  generatorCpuMs: number;
  /** CPU time of the whole machine (all cores) spent outside idle, ms. */
  machineBusyMs: number;
}

interface Result {
  contender: Contender;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
  firstError: string | undefined;
  serverCpuPerRequestUs: number;
  upstreamCpuPerRequestUs: number;
  generatorCores: number;
  /** Cores used by everything outside this benchmark while it measured this contender. */
  otherCores: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const TICK_MS = 10;

/** Busy (non-idle, non-iowait) CPU time of the machine, all cores, ms. */
function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + (steal || 0)) * TICK_MS;
}

/** CPU of this process plus its reaped children (wrk once it has exited), ms. */
function selfAndChildrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8');
  const rest = fields.slice(fields.lastIndexOf(')') + 2).split(' ');
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000 + (Number(rest[13]) + Number(rest[14])) * TICK_MS;
}

function sumCpu(pids: number[]) {
  return pids.reduce((sum, pid) => sum + cpuTimeMs(pid), 0);
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function which(command: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/sbin']) {
    const file = path.join(dir, command);
    if (dir && existsSync(file)) return file;
  }
  return undefined;
}

function exec(file: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 600_000): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => resolve({ ok: !error, output: `${stdout}${stderr}`.trim() }));
  });
}

/** The Debian package's program, installed from apt when missing (as .ci/run installs the tests' packages). */
async function ensurePackage(command: string, pkg: string, log: (line: string) => void): Promise<{ file?: string; message?: string }> {
  const found = which(command);
  if (found) return { file: found };
  const aptGet = which('apt-get');
  if (!aptGet) return { message: `${command} is not installed and apt-get is not available` };
  log(`  gateway: ${command} is not installed; installing the Debian package ${pkg} (apt-get)...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let install = await exec(aptGet, ['install', '-y', '-qq', pkg], env);
  if (!install.ok) {
    await exec(aptGet, ['update', '-qq'], env);
    install = await exec(aptGet, ['install', '-y', '-qq', pkg], env);
  }
  const file = which(command);
  if (file) return { file };
  return { message: `${command} could not be installed (apt-get install -y ${pkg}: ${install.output.split('\n').slice(-2).join(' ').slice(0, 300) || 'failed'})` };
}

// --- the servers ----------------------------------------------------------------------------

async function startUpstream(root: string, deps: GatewayDeps) {
  const port = await freePort();
  const child = startNode('gateway upstream', [path.join(root, 'bench/gateway-upstream.mjs')], { cwd: root, env: deps.childEnv({ UPSTREAM_PORT: String(port), NODE_ENV: 'production' }) });
  await waitUntilReady(child, port, '/api/ready');
  return { port, child };
}

async function startUndiciProxy(root: string, upstreamPort: number, deps: GatewayDeps) {
  const port = await freePort();
  const child = startNode('undici proxy', [path.join(root, 'bench/undici-proxy.mjs')], {
    cwd: root, env: deps.childEnv({ PROXY_PORT: String(port), UPSTREAM_PORT: String(upstreamPort), NODE_ENV: 'production' }),
  });
  await waitUntilReady(child, port, `${GATEWAY_PREFIX}/ready`);
  return { port, child };
}

const NGINX_WORKERS = process.env.BENCH_NGINX_WORKERS ?? '1';

/** nginx on a loopback port with its own configuration and files under `dir`, as a child process. */
async function startNginx(nginx: string, dir: string, upstreamPort: number) {
  const port = await freePort();
  for (const sub of ['logs', 'temp']) await fs.mkdir(path.join(dir, sub), { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  await fs.writeFile(conf, `# bench/gateway.ts: a plain reverse proxy, upstream keep-alive, no logging
worker_processes ${NGINX_WORKERS};
error_log ${dir}/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/temp/body;
  proxy_temp_path ${dir}/temp/proxy;
  fastcgi_temp_path ${dir}/temp/fastcgi;
  uwsgi_temp_path ${dir}/temp/uwsgi;
  scgi_temp_path ${dir}/temp/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  upstream project { server 127.0.0.1:${upstreamPort}; keepalive 64; keepalive_requests 10000000; keepalive_timeout 300s; }
  server {
    listen 127.0.0.1:${port};
    location ${GATEWAY_PREFIX}/ {
      proxy_pass http://project/api/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }
  }
}
`);
  const child = spawn(nginx, ['-p', dir, '-e', path.join(dir, 'logs/error.log'), '-c', conf, '-g', `daemon off; pid ${dir}/nginx.pid;`], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (!child.pid) throw new Error('nginx did not start');
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4000); });
  child.stderr!.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4000); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let running = true;
  void exited.then(() => { running = false; });
  const stop = async () => {
    if (!running) return;
    child.kill('SIGQUIT'); // graceful: the master stops its workers
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5_000).unref());
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      for (const worker of childrenOf(child.pid!)) { try { process.kill(worker, 'SIGKILL'); } catch { /* gone */ } }
      child.kill('SIGKILL');
      await exited;
    }
  };
  onCleanUp(`nginx (pid ${child.pid})`, stop);
  const asChild: Child = { process: child, pid: child.pid, output: () => output, exited, stop };
  await waitUntilReady(asChild, port, `${GATEWAY_PREFIX}/ready`, 15_000);
  const master = child.pid;
  return { port, child: asChild, pids: () => [master, ...childrenOf(master)] };
}

// --- the load generators --------------------------------------------------------------------

/** wrk's results through its Lua `done` hook: exact counts, latency percentiles in µs. */
const WRK_SCRIPT = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH_JSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"p50_us\\":%d,\\"p99_us\\":%d,\\"connect\\":%d,\\"read\\":%d,\\"write\\":%d,\\"status\\":%d,\\"timeout\\":%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
`;

interface Generator {
  name: string;
  window(c: Contender, seconds: number): Promise<{ requests: number; seconds: number; p50: number; p99: number; errors: number; firstError?: string }>;
}

async function wrkGenerator(wrk: string, tmp: string): Promise<Generator> {
  const script = path.join(tmp, 'bench-wrk.lua');
  await fs.writeFile(script, WRK_SCRIPT);
  return {
    name: 'wrk -t1 (keep-alive)',
    async window(c, seconds) {
      const headers = Object.entries({ Host: c.host, Accept: 'application/json', ...c.headers }).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
      const args = ['-t1', `-c${CONCURRENCY}`, `-d${Math.max(1, Math.round(seconds))}s`, '--timeout', '10s', '-s', script, ...headers, `http://127.0.0.1:${c.port}${c.path}`];
      const run = await exec(wrk, args, process.env, (seconds + 30) * 1000);
      const line = run.output.split('\n').find((l) => l.startsWith('BENCH_JSON '));
      if (!run.ok || !line) throw new Error(`wrk failed: ${run.output.slice(-500)}`);
      const r = JSON.parse(line.slice('BENCH_JSON '.length)) as Record<string, number>;
      const errors = r.connect + r.read + r.write + r.status + r.timeout;
      const firstError = errors ? `wrk: ${r.status} non-2xx/3xx answers, socket errors connect ${r.connect} read ${r.read} write ${r.write} timeout ${r.timeout}` : undefined;
      return { requests: r.requests - r.status, seconds: r.duration_us / 1e6, p50: r.p50_us / 1000, p99: r.p99_us / 1000, errors, firstError };
    },
  };
}

function nodeGenerator(): Generator {
  const agents = new Map<string, Target>();
  return {
    name: 'Node closed loop (bench/load.ts, node:http keep-alive, one process)',
    async window(c, seconds) {
      let target = agents.get(c.key);
      if (!target) agents.set(c.key, (target = { name: c.label, port: c.port, issuer: `http://${c.host}`, host: c.host, pid: c.pids()[0], agent: keepAliveAgent(CONCURRENCY) }));
      const t = target;
      const headers = { accept: 'application/json', ...c.headers };
      const w = await closedLoop({
        concurrency: CONCURRENCY, warmupMs: 200, durationMs: seconds * 1000, serverPid: t.pid,
        operation: async () => {
          const reply = await send(t, c.path, { headers });
          if (reply.status !== 200) throw new Error(`${c.label} answered ${reply.status}: ${reply.body.slice(0, 160)}`);
        },
      });
      const sorted = w.latencies.sort((a, b) => a - b);
      const q = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : Number.NaN);
      return { requests: w.completed, seconds: w.elapsedMs / 1000, p50: q(0.5), p99: q(0.99), errors: w.errors, firstError: w.firstError };
    },
  };
}

async function measure(generator: Generator, c: Contender, seconds: number, upstreamPid: number): Promise<Sample> {
  const pids = c.pids();
  const server0 = sumCpu(pids);
  const upstream0 = cpuTimeMs(upstreamPid);
  const self0 = selfAndChildrenCpuMs();
  const machine0 = machineBusyMs();
  const w = await generator.window(c, seconds);
  const machine1 = machineBusyMs();
  const self1 = selfAndChildrenCpuMs();
  const server1 = sumCpu(pids);
  const upstream1 = cpuTimeMs(upstreamPid);
  return {
    ...w,
    firstError: w.firstError,
    serverCpuMs: server1 - server0,
    upstreamCpuMs: c.proxied ? upstream1 - upstream0 : 0,
    generatorCpuMs: self1 - self0,
    machineBusyMs: machine1 - machine0,
  };
}

function combine(c: Contender, samples: Sample[]): Result {
  const requests = samples.reduce((s, x) => s + x.requests, 0);
  const seconds = samples.reduce((s, x) => s + x.seconds, 0);
  const total = (pick: (x: Sample) => number) => samples.reduce((s, x) => s + pick(x), 0);
  // Percentiles of each window, weighted by its requests (wrk reports percentiles, not histograms).
  const weighted = (pick: (x: Sample) => number) => (requests ? samples.reduce((s, x) => s + pick(x) * x.requests, 0) / requests : Number.NaN);
  const ours = total((x) => x.serverCpuMs + x.upstreamCpuMs + x.generatorCpuMs);
  return {
    contender: c,
    perSecond: requests / seconds,
    p50: weighted((x) => x.p50),
    p99: weighted((x) => x.p99),
    errors: total((x) => x.errors),
    firstError: samples.find((x) => x.firstError)?.firstError,
    serverCpuPerRequestUs: (total((x) => x.serverCpuMs) / requests) * 1000,
    upstreamCpuPerRequestUs: c.proxied ? (total((x) => x.upstreamCpuMs) / requests) * 1000 : Number.NaN,
    generatorCores: total((x) => x.generatorCpuMs) / (seconds * 1000),
    otherCores: Math.max(0, total((x) => x.machineBusyMs) - ours) / (seconds * 1000),
  };
}

// --- the hub --------------------------------------------------------------------------------

async function nexusCli(root: string, env: NodeJS.ProcessEnv, args: string[]): Promise<unknown> {
  const out = await runNode([path.join(root, 'scripts/nexus.mjs'), ...args, '--json', '--yes'], { cwd: root, env });
  return JSON.parse(out);
}

interface Echo { method: string; url: string; headers: Record<string, string | string[] | undefined> }

/** One request through a contender to the upstream's echo path: what the upstream received. */
async function echoThrough(c: Contender): Promise<{ status: number; echo?: Echo; headers: Record<string, unknown>; body: string }> {
  const target: Target = { name: c.label, port: c.port, issuer: `http://${c.host}`, host: c.host, pid: 0, agent: keepAliveAgent(1) };
  const echoPath = c.proxied ? `${GATEWAY_PREFIX}/echo?check=1` : '/api/echo?check=1';
  const reply = await send(target, echoPath, { headers: { accept: 'application/json', 'x-nexus-user-id': 'forged', ...c.headers }, timeoutMs: 10_000 });
  target.agent.destroy();
  let echo: Echo | undefined;
  try {
    const parsed = JSON.parse(reply.body) as Echo;
    if (parsed && typeof parsed.url === 'string' && parsed.headers) echo = parsed;
  } catch { /* not the upstream's answer */ }
  return { status: reply.status, echo, headers: reply.headers as Record<string, unknown>, body: reply.body };
}

// --- report ---------------------------------------------------------------------------------

const ms = (value: number) => (Number.isFinite(value) ? (value < 10 ? value.toFixed(2) : value.toFixed(1)) : '—');

interface Line { server: string; rps: string; p50: string; p99: string; cpu: string; upstream: string; ratio: string; target: string }
const HEADER: Line = { server: 'server (c=16)', rps: 'req/s', p50: 'p50 ms', p99: 'p99 ms', cpu: 'CPU µs/req', upstream: '+ upstream µs/req', ratio: 'vs undici', target: 'target' };

// --- the part -------------------------------------------------------------------------------

export async function gatewayBench(deps: GatewayDeps): Promise<PartReport> {
  const { root, tmp, log } = deps;
  const report = emptyReport();
  const loadAtStart = os.loadavg();

  // Generator: wrk when present or installable, else the Node closed loop.
  let generator: Generator;
  if (process.env.BENCH_GENERATOR === 'node') {
    generator = nodeGenerator();
  } else {
    const wrk = await ensurePackage('wrk', 'wrk', log);
    if (wrk.file) generator = await wrkGenerator(wrk.file, tmp);
    else {
      generator = nodeGenerator();
      report.warnings.push(`gateway: ${wrk.message}; using the Node load generator instead, which saturates below the direct and nginx rates`);
    }
  }

  log('gateway: starting the upstream, nginx, the undici proxy and a hub...');
  const upstream = await startUpstream(root, deps);
  const contenders: Contender[] = [
    { key: 'direct', label: 'upstream directly (node:http)', port: upstream.port, host: `127.0.0.1:${upstream.port}`, path: `/api${RESOURCE}`, headers: {}, pids: () => [upstream.child.pid], proxied: false },
  ];

  const nginx = await ensurePackage('nginx', 'nginx', log);
  let nginxNote = '';
  if (nginx.file) {
    const version = (await exec(nginx.file, ['-v'])).output.replace(/^nginx version:\s*/, '');
    const n = await startNginx(nginx.file, path.join(tmp, 'nginx'), upstream.port);
    nginxNote = `${version}, worker_processes ${NGINX_WORKERS}`;
    contenders.push({ key: 'nginx', label: `nginx proxy_pass (${nginxNote})`, port: n.port, host: `127.0.0.1:${n.port}`, path: `${GATEWAY_PREFIX}${RESOURCE}`, headers: {}, pids: n.pids, proxied: true });
  } else {
    report.warnings.push(`gateway: ${nginx.message}: the nginx row is skipped`);
  }

  const undici = await startUndiciProxy(root, upstream.port, deps);
  const undiciVersion = (JSON.parse(await fs.readFile(path.join(root, 'node_modules/undici/package.json'), 'utf8')) as { version: string }).version;
  contenders.push({ key: 'undici', label: `bare Node proxy (undici ${undiciVersion} Pool)`, port: undici.port, host: `127.0.0.1:${undici.port}`, path: `${GATEWAY_PREFIX}${RESOURCE}`, headers: {}, pids: () => [undici.child.pid], proxied: true });

  // The hub: the sales project's upstream is the bench upstream; tokens live long enough for the run.
  const clients = JSON.parse(await fs.readFile(path.join(root, 'clients.json'), 'utf8')) as { clients: Array<Record<string, unknown>> };
  const project = clients.clients.find((c) => c.id === PROJECT);
  if (!project) throw new Error(`clients.json has no "${PROJECT}" project`);
  project.upstream = `http://127.0.0.1:${upstream.port}/api`;
  const clientsFile = path.join(tmp, 'gateway-clients.json');
  await fs.writeFile(clientsFile, JSON.stringify(clients, null, 2));
  const hub = await deps.startHub({ CLIENTS_FILE: clientsFile, ACCESS_TOKEN_TTL: '3600', LOG_LEVEL: process.env.BENCH_GATEWAY_LOG_LEVEL ?? 'warn' });
  const hubHost = hub.target.host;

  // Unlimited gateway requests: the enterprise plan (set before the sign-in, so the token carries it).
  let gatewayProblem: string | undefined;
  try {
    await nexusCli(root, hub.cliEnv, ['plans', 'set', '--email', hub.account.email, '--plan', 'enterprise']);
  } catch (error) {
    report.warnings.push(`gateway: could not set the bench user's plan to enterprise: ${(error as Error).message.split('\n').slice(0, 3).join(' ')}`);
  }
  const tokens = await loginFlow(hub.target, hub.client, hub.account);
  const jwt = tokens.access_token!;
  let apiKey: string | undefined;
  try {
    const created = (await nexusCli(root, hub.cliEnv, ['apikeys', 'create', '--email', hub.account.email, '--name', 'gateway bench', '--env', 'live'])) as { key?: string };
    apiKey = created.key;
  } catch (error) {
    report.warnings.push(`gateway: could not create an API key: ${(error as Error).message.split('\n').slice(0, 3).join(' ')}`);
  }

  const hubPid = () => [hub.child.pid];
  const hubContenders: Contender[] = [
    { key: 'hub-jwt', label: 'Nexus gateway, user JWT', port: hub.target.port, host: hubHost, path: `${GATEWAY_PREFIX}${RESOURCE}`, headers: { Authorization: `Bearer ${jwt}` }, pids: hubPid, proxied: true },
    ...(apiKey ? [{ key: 'hub-key', label: 'Nexus gateway, API key', port: hub.target.port, host: hubHost, path: `${GATEWAY_PREFIX}${RESOURCE}`, headers: { Authorization: `Bearer ${apiKey}` }, pids: hubPid, proxied: true }] : []),
  ];

  // Checks: every contender returns the upstream's answer; the gateway sets the identity headers.
  const checks: string[] = [];
  for (const c of contenders) {
    const r = await echoThrough(c);
    const expected = `/api/echo?check=1`;
    if (r.status !== 200 || r.echo?.url !== expected) throw new Error(`${c.label}: the upstream's echo did not come back (status ${r.status}, url ${r.echo?.url}): ${r.body.slice(0, 200)}`);
    checks.push(`${c.label}: 200, upstream saw GET ${r.echo.url}`);
  }
  for (const c of hubContenders) {
    const r = await echoThrough(c);
    if (r.status !== 200 || !r.echo) {
      gatewayProblem = `GET ${GATEWAY_PREFIX}/echo through the hub answered ${r.status}: ${r.body.replace(/\s+/g, ' ').slice(0, 160)}`;
      break;
    }
    const h = r.echo.headers;
    const missing = ['x-nexus-user-id', 'x-nexus-project', 'x-nexus-auth-method', 'x-nexus-assertion'].filter((name) => !h[name]);
    if (missing.length || h['x-nexus-user-id'] === 'forged') {
      gatewayProblem = `the gateway answered 200 but the upstream did not receive ${missing.join(', ') || 'the real user id (a forged one came through)'}`;
      break;
    }
    if (c.key === 'hub-key' && String(h.authorization ?? '').includes('nxk_')) report.warnings.push('gateway: the API key reached the upstream');
    checks.push(`${c.label}: 200, upstream saw ${r.echo.url} with X-Nexus-User-Id ${String(h['x-nexus-user-id']).slice(0, 8)}…, auth method ${String(h['x-nexus-auth-method'])}, role ${String(h['x-nexus-role'])}, plan ${String(h['x-nexus-plan'])}, assertion ${String(h['x-nexus-assertion']).length} chars; RateLimit-Limit ${String(r.headers['ratelimit-limit'] ?? '(none)')}`);
  }
  const gatewayLanded = existsSync(path.join(root, 'dist/gateway')) || existsSync(path.join(root, 'src/gateway'));
  if (gatewayProblem) {
    report.warnings.push(`gateway: the gateway rows are skipped: ${gatewayProblem}${gatewayLanded ? '' : ' (src/gateway does not exist yet: the gateway has not landed in this tree)'}`);
  } else {
    contenders.push(...hubContenders);
  }

  // Warm-up, then alternating rounds.
  const rounds = deps.rounds;
  const windowS = Math.max(1, (MEASURE_S * deps.scale) / rounds);
  const warmupS = Math.max(1, WARMUP_S * deps.scale);
  for (const c of contenders) {
    log(`  gateway: warming up ${c.key}`);
    await generator.window(c, warmupS);
  }
  const samples = new Map<string, Sample[]>(contenders.map((c) => [c.key, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const c of contenders) {
      log(`  gateway: ${c.key}, round ${round}/${rounds}`);
      samples.get(c.key)!.push(await measure(generator, c, windowS, upstream.child.pid));
      await sleep(200);
    }
  }
  const results = new Map(contenders.map((c) => [c.key, combine(c, samples.get(c.key)!)]));
  const loadAtEnd = os.loadavg();

  await hub.child.stop();

  // The table.
  const base = results.get('undici')!;
  const lines: Line[] = [];
  for (const r of results.values()) {
    let target = '';
    if (r.contender.key.startsWith('hub-')) {
      const ratio = r.perSecond / base.perSecond;
      const delta = r.p50 - base.p50;
      const ratioPass = ratio >= THROUGHPUT_TARGET;
      const p50Pass = delta <= P50_TARGET_MS;
      if (!ratioPass) report.failures.push(`${r.contender.label} at ${pct(ratio)} of the undici proxy`);
      if (!p50Pass) report.failures.push(`${r.contender.label} p50 ${ms(delta)} ms above the undici proxy`);
      target = `≥ ${THROUGHPUT_TARGET * 100}% of undici: ${ratioPass ? 'PASS' : 'FAIL'}; p50 ≤ undici + ${P50_TARGET_MS} ms (${delta >= 0 ? '+' : ''}${ms(delta)}): ${p50Pass ? 'PASS' : 'FAIL'}`;
    }
    lines.push({
      server: r.contender.label, rps: fmt(r.perSecond), p50: ms(r.p50), p99: ms(r.p99), cpu: fmt(r.serverCpuPerRequestUs), upstream: fmt(r.upstreamCpuPerRequestUs),
      ratio: r.contender.key === 'undici' ? '100%' : pct(r.perSecond / base.perSecond), target,
    });
    if (r.errors) report.warnings.push(`gateway / ${r.contender.key}: ${r.errors} failed requests, first: ${r.firstError}`);
  }
  if (gatewayProblem) {
    for (const label of ['Nexus gateway, user JWT', 'Nexus gateway, API key']) lines.push({ server: label, rps: 'skipped', p50: '', p99: '', cpu: '', upstream: '', ratio: '', target: 'the gateway route did not answer (see WARNING)' });
  }
  report.text = textTable(HEADER, lines);
  report.markdown = markdownTable(HEADER, lines);

  const others = [...results.values()].map((r) => `${r.contender.key} ${fmt(r.otherCores, 2)}`).join(', ');
  const generators = [...results.values()].map((r) => `${r.contender.key} ${fmt(r.generatorCores, 2)}`).join(', ');
  report.notes.push(
    `gateway: ${generator.name}, c=${CONCURRENCY}, GET ${RESOURCE} (small JSON body, 92 bytes); ${fmt(warmupS, 1)} s warm-up + ${rounds} alternating rounds × ${fmt(windowS, 1)} s per server; p50/p99 averaged over rounds (weighted by requests)`,
    `gateway: load generator CPU (cores): ${generators}`,
    `gateway: cores used by other processes on the machine while measuring (all CPU time minus the servers', the upstream's and the generator's): ${others}; load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')} at the start, ${loadAtEnd.map((l) => l.toFixed(2)).join(' ')} at the end`,
  );
  if (generator.name.startsWith('Node')) {
    report.notes.push('gateway: with the Node load generator the direct and nginx rows measure the generator (one Node process tops out far below them; wrk reaches ~96,000/s direct on this kind of machine): install wrk (`apt-get install wrk`) for those rows');
  }
  for (const line of checks) report.notes.push(`gateway check: ${line}`);
  report.descriptions.push(
    `Gateway: four servers in front of one upstream (bench/gateway-upstream.mjs, node:http, small JSON answer): the upstream directly; ${nginxNote ? `Debian nginx (${nginxNote}, proxy_pass with upstream keepalive, access_log off)` : 'nginx (skipped)'}; the bare undici proxy (bench/undici-proxy.mjs); the hub's gateway at ${GATEWAY_PREFIX}/* with the bench user's JWT (from the login flow, aud urn:nexus:sales, plan enterprise) and with an API key (\`nexus apikeys create\`, no --rate-limit). "CPU µs/req" is the server process's own CPU time per request (nginx: master + workers), "+ upstream" the upstream's CPU per proxied request.`,
  );
  report.summaryLines.push(
    `- Gateway: ${generator.name} at c=${CONCURRENCY} on 127.0.0.1, every server measured in alternating rounds; the upstream is a node:http server answering 92 bytes of JSON; nginx ${nginxNote || 'skipped'}; the hub is \`node dist/server.js\` with the bench user on the enterprise plan (no gateway limit) and an API key without a rate limit. Targets: the gateway ≥ ${THROUGHPUT_TARGET * 100}% of the bare undici proxy's throughput with either credential, p50 at most ${P50_TARGET_MS} ms above it.`,
  );
  return report;
}
