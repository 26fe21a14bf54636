// Power loss on the zero-configuration default: the hub and its embedded PostgreSQL die with
// SIGKILL, again and again, and every restart comes back with the data written before the crash.
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { freePort, runServer, waitForReady, type ServerProcess } from '../support/process.js';
import { basicAuth } from '../support/oauth.js';
import { run } from '../cli/support.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function embeddedHub() {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-crash-'));
  const port = await freePort();
  const env = { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), CLIENTS_FILE: path.resolve('clients.json'), LOG_LEVEL: 'warn' };
  const hub = { env, dataDir, url: `http://localhost:${port}`, current: undefined as ServerProcess | undefined };
  cleanups.push(async () => {
    await killEverything(hub.current, dataDir);
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  return hub;
}

function start(hub: { env: Record<string, string>; current?: ServerProcess }) {
  hub.current = runServer(hub.env);
  return hub.current;
}

const pidFile = (dataDir: string) => path.join(dataDir, 'postgres', 'postmaster.pid');

async function postmasterPid(dataDir: string) {
  const content = await fs.readFile(pidFile(dataDir), 'utf8').catch(() => '');
  return Number(content.split('\n')[0]) || undefined;
}

async function childrenOf(pid: number) {
  const children: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after the command name (which may contain spaces): state, ppid, …
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) children.push(Number(entry));
  }
  return children;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Power loss: the hub and its postmaster die at the same moment, with the postmaster's children
 * too (`everything`) or left to notice on their own as after `kill -9 HUB POSTMASTER`. Nothing
 * waits for the dead to be reaped: the next start comes at once, as `npm start` after a crash.
 */
async function crash(server: ServerProcess | undefined, dataDir: string, everything = true) {
  const postmaster = await postmasterPid(dataDir);
  const victims = postmaster && alive(postmaster) ? [postmaster, ...everything ? await childrenOf(postmaster) : []] : [];
  if (server?.child.exitCode === null) victims.push(server.child.pid!);
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await server?.exited;
  return victims;
}

async function killEverything(server: ServerProcess | undefined, dataDir: string) {
  const victims = await crash(server, dataDir);
  while (victims.some(alive)) await new Promise((resolve) => setTimeout(resolve, 20));
}

async function clientCredentials(url: string, secret: string) {
  return fetch(`${url}/token`, {
    method: 'POST',
    headers: { authorization: basicAuth('sales', secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
}

/** A device authorization writes a row; the answer comes once it is committed. */
async function deviceCode(url: string) {
  const response = await fetch(`${url}/device/auth`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'client_id=testing&scope=openid',
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { device_code: string }).device_code;
}

async function devicePollError(url: string, code: string) {
  const response = await fetch(`${url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: code, client_id: 'testing' }),
  });
  return ((await response.json()) as { error: string }).error;
}

it('survives SIGKILL of the hub and its PostgreSQL ten times in a row with the data intact', async () => {
  const hub = await embeddedHub();
  await waitForReady(hub.url, start(hub), 120_000);
  const { sales: secret } = JSON.parse(await fs.readFile(path.join(hub.dataDir, 'client-secrets.json'), 'utf8')) as Record<string, string>;
  const jwks = await (await fetch(`${hub.url}/jwks`)).json();
  const codes: string[] = [];

  for (let round = 1; round <= 10; round++) {
    codes.push(await deviceCode(hub.url));
    await crash(hub.current, hub.dataDir, round % 2 === 0);
    const server = start(hub);
    await waitForReady(hub.url, server, 60_000).catch((error: Error) => {
      throw new Error(`round ${round}: ${error.message}`);
    });
    expect((await clientCredentials(hub.url, secret)).status, `round ${round}`).toBe(200);
    expect(await (await fetch(`${hub.url}/jwks`)).json()).toEqual(jwks);
    // Every device code written before any of the crashes is still there, still pending.
    for (const code of codes) expect(await devicePollError(hub.url, code), `round ${round}`).toBe('authorization_pending');
    expect(server.output()).not.toContain('failed to start');
  }
  expect(await hub.current!.stop()).toBe(0);
}, 300_000);

it('waits for a process of the killed server that still holds its shared memory', async () => {
  const hub = await embeddedHub();
  await waitForReady(hub.url, start(hub), 120_000);
  const code = await deviceCode(hub.url);
  // One of the postmaster's children, stopped, cannot notice its parent is gone (as one stuck
  // in the kernel): PostgreSQL refuses to start while it is attached to the old shared memory.
  const [straggler] = await childrenOf((await postmasterPid(hub.dataDir))!);
  process.kill(straggler, 'SIGSTOP');
  await crash(hub.current, hub.dataDir, false);

  // A second server beside it would corrupt the data: the hub waits (not ready, not exited).
  const server = start(hub);
  await new Promise((resolve) => setTimeout(resolve, 4_000));
  expect(server.child.exitCode).toBeNull();
  await expect(fetch(`${hub.url}/readyz`)).rejects.toThrow();
  process.kill(straggler, 'SIGKILL');
  await waitForReady(hub.url, server, 60_000);
  expect(await devicePollError(hub.url, code)).toBe('authorization_pending');
  // Said once, never once per retry (on a loaded machine the wait may end before the first retry).
  expect(server.output().split('\n').filter((line) => line.includes('still hold its shared memory')).length).toBeLessThanOrEqual(1);
  expect(await server.stop()).toBe(0);
}, 180_000);

it('shares a PostgreSQL that outlived its hub, with the CLI and with the next start', async () => {
  const hub = await embeddedHub();
  await waitForReady(hub.url, start(hub), 120_000);
  const postmaster = await postmasterPid(hub.dataDir);
  hub.current!.child.kill('SIGKILL');
  await hub.current!.exited;

  const created = await run(undefined, ['users', 'create', '--email', 'grace@example.com', '--password-stdin'], { env: hub.env, stdin: 'correct horse battery staple' });
  expect(created.code, created.stderr).toBe(0);
  const server = start(hub);
  await waitForReady(hub.url, server, 60_000);
  expect(await postmasterPid(hub.dataDir)).toBe(postmaster);
  const listed = await run(undefined, ['users', 'list', '--json'], { env: hub.env });
  expect(JSON.parse(listed.stdout).map((user: { email: string }) => user.email)).toEqual(['grace@example.com']);
  expect(await server.stop()).toBe(0);
}, 180_000);

it('starts over a stale postmaster.pid whose pid now belongs to an unrelated live process', async () => {
  const hub = await embeddedHub();
  await waitForReady(hub.url, start(hub), 120_000);
  const code = await deviceCode(hub.url);
  await killEverything(hub.current, hub.dataDir);

  // After a reboot the old postmaster's pid is someone else's: here a sleeping process of ours.
  const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
  cleanups.push(async () => stranger.kill('SIGKILL'));
  const lines = (await fs.readFile(pidFile(hub.dataDir), 'utf8')).split('\n');
  await fs.writeFile(pidFile(hub.dataDir), [String(stranger.pid), ...lines.slice(1)].join('\n'));

  const server = start(hub);
  await waitForReady(hub.url, server, 60_000);
  expect(await devicePollError(hub.url, code)).toBe('authorization_pending');
  expect(alive(stranger.pid!)).toBe(true);
  expect(await server.stop()).toBe(0);
}, 180_000);

it('starts over an empty postmaster.pid left by a crash while it was being written', async () => {
  const hub = await embeddedHub();
  await waitForReady(hub.url, start(hub), 120_000);
  await killEverything(hub.current, hub.dataDir);
  await fs.writeFile(pidFile(hub.dataDir), '');
  const server = start(hub);
  await waitForReady(hub.url, server, 60_000);
  expect(await server.stop()).toBe(0);
}, 180_000);

it('says in one line that EMBEDDED_PG_PORT is taken by another program, and exits non-zero', async () => {
  const hub = await embeddedHub();
  const squatter = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => squatter.listen(Number(hub.env.EMBEDDED_PG_PORT), '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => squatter.close(resolve)));

  const server = start(hub);
  expect(await server.exited).not.toBe(0);
  const lines = server.output().trim().split('\n').filter((line) => line && !line.startsWith('{') && !line.includes('Unsupported runtime'));
  expect(lines).toEqual([
    `Nexus failed to start: EMBEDDED_PG_PORT ${hub.env.EMBEDDED_PG_PORT} is in use by another program; set EMBEDDED_PG_PORT to a free port`,
  ]);
});
