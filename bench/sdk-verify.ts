// The SDK's offline verifier next to raw jose, on one core: how many hub access tokens a project
// can verify per second, and what the SDK's convenience costs.
//
//   npx tsx bench/sdk-verify.ts                 7 rounds of 1 s per contender (about 30 s)
//   npx tsx bench/sdk-verify.ts --quick         3 rounds of 0.3 s (smoke test)
//   npx tsx bench/sdk-verify.ts --profile       also CPU-profile the SDK loop and list the hottest functions
//   npx tsx bench/sdk-verify.ts --strict        exit 2 when a target is missed (for CI)
// `npm run bench` runs it too (its "sdk" part) and puts the medians into its summary table;
// it reads them from $SDK_BENCH_RESULT_FILE (JSON), written at the end when that is set.
//
// One core: the script re-executes itself under `taskset -c 0` (when available) with
// UV_THREADPOOL_SIZE=1, and every contender is a sequential loop (one verification at a time).
// Node's WebCrypto runs each RSA verification on the libuv pool, so pinning keeps the main
// thread and that pool thread on the same core.
//
// Contenders, same RS256 (2048-bit) token shaped like the hub's, same verify options:
//   sdk          createVerifier({ issuer, audience }).verify(token), JWKS fetched once from a local
//                HTTP server and cached (the request count is checked)
//   jose-crypto  jwtVerify(token, cryptoKey, options)  (the CryptoKey the SDK's importJWK yields)
//   jose-keyobj  jwtVerify(token, keyObject, options)  (a node:crypto KeyObject)
// Targets: sdk >= 90% of raw jose (jose-crypto) and >= 15,000 verifications/s.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Session } from 'node:inspector/promises';
import { createPublicKey, randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type JWTVerifyOptions } from 'jose';
import { createVerifier } from '@nexus/auth';

const args = new Set(process.argv.slice(2));
const QUICK = args.has('--quick');
const PROFILE = args.has('--profile');
const STRICT = args.has('--strict');
const ROUNDS = QUICK ? 3 : 7;
const ROUND_MS = QUICK ? 300 : 1000;
const TARGET_RATIO = 0.9;
const TARGET_OPS = 15_000;

// --- pin to one core ---------------------------------------------------------------------------
if (!process.env.SDK_BENCH_PINNED) {
  const taskset = ['/usr/bin/taskset', '/bin/taskset'].find((file) => existsSync(file));
  const node = [...process.execArgv, process.argv[1], ...process.argv.slice(2)];
  const [command, argv] = taskset ? [taskset, ['-c', '0', process.execPath, ...node]] : [process.execPath, node];
  const env = { ...process.env, SDK_BENCH_PINNED: taskset ? 'taskset -c 0' : 'not pinned (no taskset)', UV_THREADPOOL_SIZE: '1' };
  const child = spawnSync(command, argv, { stdio: 'inherit', env });
  process.exit(child.status ?? 1);
}

// --- setup -------------------------------------------------------------------------------------
const AUDIENCE = 'urn:nexus:sales';
const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
const kid = 'bench-key';
const jwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'RS256' };

let jwksRequests = 0;
const server = http.createServer((req, res) => {
  if (req.url !== '/jwks') return void res.writeHead(404).end();
  jwksRequests++;
  res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: [jwk] }));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({
  sub: 'c9b1f6a2-0d3e-4f59-9a57-0e5a3c1d2b7f', client_id: 'sales', scope: 'leads:read leads:write', email: 'ada@example.com',
  role: 'user', jti: randomBytes(16).toString('base64url'),
})
  .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid })
  .setIssuer(issuer).setAudience(AUDIENCE).setIssuedAt(now).setExpirationTime(now + 3600)
  .sign(privateKey);

// Exactly the options createVerifier uses (packages/auth/src/verifier.ts).
const options: JWTVerifyOptions = {
  issuer, audience: AUDIENCE, algorithms: ['RS256'], typ: 'at+jwt', clockTolerance: 5, requiredClaims: ['sub', 'exp', 'iat', 'client_id'],
};
const cryptoKey = await importJWK(jwk, 'RS256');
const keyObject = createPublicKey({ key: jwk as never, format: 'jwk' });
const verifier = createVerifier({ issuer, audience: AUDIENCE });

const contenders: Record<string, () => Promise<unknown>> = {
  sdk: () => verifier.verify(token),
  'jose-crypto': () => jwtVerify(token, cryptoKey, options),
  'jose-keyobj': () => jwtVerify(token, keyObject, options),
};

// Every contender must accept the token (and the SDK must have fetched the JWKS once).
const principal = await verifier.verify(token);
if (principal.sub !== 'c9b1f6a2-0d3e-4f59-9a57-0e5a3c1d2b7f') throw new Error('the SDK returned the wrong principal');
for (const run of Object.values(contenders)) await run();

/** Verifies sequentially for about `ms`; returns how many and how long it really took. */
async function loop(run: () => Promise<unknown>, ms: number): Promise<{ count: number; ms: number; cpuMs: number }> {
  let count = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const deadline = started + ms;
  // Check the clock every 32 verifications: performance.now() is cheap but not free.
  while (true) {
    for (let i = 0; i < 32; i++) await run();
    count += 32;
    const now = performance.now();
    if (now >= deadline) {
      const used = process.cpuUsage(cpu);
      return { count, ms: now - started, cpuMs: (used.user + used.system) / 1000 };
    }
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

console.log(`SDK verifier benchmark: Node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}, ${os.cpus().length} cpus visible`);
console.log(`pinning: ${process.env.SDK_BENCH_PINNED}, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE}; ${ROUNDS} rounds x ${ROUND_MS} ms per contender, sequential`);

// Warm-up (JIT, key caches) for every contender.
for (const run of Object.values(contenders)) await loop(run, QUICK ? 200 : 1000);

// Each round interleaves short slices of every contender (order alternating), so load from
// elsewhere on the machine hits all of them alike; the SDK/raw ratio is taken per round.
const SLICES = 10;
const results: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
/** Verifications per CPU-second (all threads of this process): what one dedicated core would do. */
const perCpuSecond: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
const ratios: number[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  const totals = Object.fromEntries(Object.keys(contenders).map((name) => [name, { count: 0, ms: 0, cpuMs: 0 }]));
  for (let slice = 0; slice < SLICES; slice++) {
    const order = Object.keys(contenders);
    if ((round + slice) % 2) order.reverse();
    for (const name of order) {
      const { count, ms, cpuMs } = await loop(contenders[name], ROUND_MS / SLICES);
      totals[name].count += count;
      totals[name].ms += ms;
      totals[name].cpuMs += cpuMs;
    }
  }
  const line: string[] = [];
  for (const name of Object.keys(contenders)) {
    const ops = (totals[name].count * 1000) / totals[name].ms;
    results[name].push(ops);
    perCpuSecond[name].push((totals[name].count * 1000) / totals[name].cpuMs);
    line.push(`${name} ${fmt(ops)}/s`);
  }
  ratios.push(results.sdk[round - 1] / results['jose-crypto'][round - 1]);
  console.log(`round ${round}: ${line.join(', ')}  (sdk/raw ${(ratios[round - 1] * 100).toFixed(1)}%)`);
}

// --- profile (optional) ------------------------------------------------------------------------
interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
if (PROFILE) {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  await loop(contenders.sdk, 3000);
  const { profile } = (await session.post('Profiler.stop')) as { profile: { nodes: ProfileNode[] } };
  session.disconnect();
  const file = path.join(os.tmpdir(), `sdk-verify-${Date.now()}.cpuprofile`);
  await writeFile(file, JSON.stringify(profile));
  const self = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    total += hits;
    const where = node.callFrame.url ? `${node.callFrame.url.replace(/^.*\/(node_modules|packages\/auth|src)\//, '$1/')}:${node.callFrame.lineNumber + 1}` : '';
    const name = `${node.callFrame.functionName || '(anonymous)'} ${where}`.trim();
    self.set(name, (self.get(name) ?? 0) + hits);
  }
  console.log(`\nCPU profile of the SDK loop (3 s, self time; full profile: ${file}):`);
  for (const [name, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    console.log(`  ${((hits / total) * 100).toFixed(1).padStart(5)}%  ${name}`);
  }
  const own = [...self].filter(([name]) => name.includes('packages/auth/')).reduce((sum, [, hits]) => sum + hits, 0);
  console.log(`  the SDK's own code (@nexus/auth: verify, getKey, toPrincipal): ${((own / total) * 100).toFixed(2)}% of samples`);
  console.log('  ("run" is the native CryptoJob.run() that node:internal/crypto/util jobPromise calls for subtle.verify;');
  console.log('   "(idle)" is the main thread waiting for the RSA verification on the libuv pool)');
}

server.close();

// --- report ------------------------------------------------------------------------------------
const sdk = median(results.sdk);
const raw = median(results['jose-crypto']);
const ratio = median(ratios);
const ratioPass = ratio >= TARGET_RATIO;
const opsPass = sdk >= TARGET_OPS;
const jwksPass = jwksRequests === 1;

console.log(`\nJWKS requests during the whole run: ${jwksRequests} (expected 1: fetched once, then cached)`);
console.log(`load average while measuring: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cpus); a busy machine lowers wall-clock rates, CPU-time rates much less`);
console.log('\n| contender | median verifications/s (wall) | min | max | vs raw jose | verifications per CPU-second |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [name, label] of [['sdk', 'SDK `createVerifier().verify`'], ['jose-crypto', 'raw `jose.jwtVerify` (CryptoKey)'], ['jose-keyobj', 'raw `jose.jwtVerify` (KeyObject)']] as const) {
  const values = results[name];
  console.log(`| ${label} | ${fmt(median(values))} | ${fmt(Math.min(...values))} | ${fmt(Math.max(...values))} | ${((median(values) / raw) * 100).toFixed(1)}% | ${fmt(median(perCpuSecond[name]))} |`);
}
console.log('\n| target | value | result |');
console.log('|---|---:|---|');
console.log(`| SDK >= ${TARGET_RATIO * 100}% of raw jose (median of per-round ratios) | ${(ratio * 100).toFixed(1)}% | ${ratioPass ? 'PASS' : 'FAIL'} |`);
console.log(`| SDK >= ${fmt(TARGET_OPS)} verifications/s (one core, wall clock) | ${fmt(sdk)} | ${opsPass ? 'PASS' : 'FAIL'} |`);
const cpuRatio = median(perCpuSecond.sdk) / median(perCpuSecond['jose-crypto']);
console.log(`| (reference) SDK verifications per CPU-second | ${fmt(median(perCpuSecond.sdk))} (${(cpuRatio * 100).toFixed(1)}% of raw) | ${median(perCpuSecond.sdk) >= TARGET_OPS ? 'would pass' : 'would fail'} on an idle core |`);
console.log(`| JWKS fetched once | ${jwksRequests} | ${jwksPass ? 'PASS' : 'FAIL'} |`);
const keyObjectCpu = median(perCpuSecond['jose-keyobj']) / median(perCpuSecond['jose-crypto']);
if (Math.abs(keyObjectCpu - 1) > 0.1) console.log(`\nnote: KeyObject vs CryptoKey differ by ${((keyObjectCpu - 1) * 100).toFixed(1)}% in CPU time`);
if (process.env.SDK_BENCH_RESULT_FILE) {
  await writeFile(process.env.SDK_BENCH_RESULT_FILE, JSON.stringify({
    sdk, raw, keyObject: median(results['jose-keyobj']), ratio,
    sdkPerCpuSecond: median(perCpuSecond.sdk), rawPerCpuSecond: median(perCpuSecond['jose-crypto']),
    rounds: ROUNDS, roundMs: ROUND_MS, jwksRequests, pinning: process.env.SDK_BENCH_PINNED, loadavg: os.loadavg(),
  }));
}
if (STRICT && !(ratioPass && opsPass && jwksPass)) process.exit(2);
