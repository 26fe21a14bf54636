// The real hub process (src/server.ts) on a fresh database, with its JSON log lines captured:
// for tests about what the hub logs, which an in-process hub writes straight to file descriptor 1.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from './database.js';
import { freePort, runServer, waitForReady, type ServerProcess } from './process.js';

export interface ProcessHub {
  url: string;
  /** The hub's environment, for `nexus` commands against the same database and master key. */
  env: Record<string, string>;
  secrets: Record<string, string>;
  server: ServerProcess;
  /** Every JSON log line written so far, parsed. */
  logs(): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startProcessHub(extraEnv: Record<string, string> = {}): Promise<ProcessHub> {
  const database: TestDatabase = await createTestDatabase();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-process-hub-'));
  const port = await freePort();
  const url = `http://localhost:${port}`;
  const env = {
    PORT: String(port), HOST: '127.0.0.1', ISSUER: url, DATABASE_URL: database.url, DATA_DIR: dataDir,
    CLIENTS_FILE: path.resolve('clients.json'), LOG_LEVEL: 'debug', ...extraEnv,
  };
  const server = runServer(env);
  const stop = async () => {
    await server.stop('SIGKILL');
    await database.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForReady(url, server);
  } catch (error) {
    await stop();
    throw error;
  }
  const secrets = JSON.parse(await fs.readFile(path.join(dataDir, 'client-secrets.json'), 'utf8')) as Record<string, string>;
  const logs = () => server.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
  return { url, env, secrets, server, logs, stop };
}
