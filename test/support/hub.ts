// Starts a real hub (real PostgreSQL, real Redis, real HTTP on a loopback port) for a test file.
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createHub, type Hub } from '../../src/app.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { freePort } from './process.js';

export interface TestHub {
  url: string;
  port: number;
  hub: Hub;
  dataDir: string;
  database: TestDatabase;
  env: Record<string, string>;
  /** Client secrets generated when clients.json was seeded. */
  secrets: Record<string, string>;
  /** Stops the HTTP server and the hub, then starts them again on the same port and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestHub(extraEnv: Record<string, string> = {}): Promise<TestHub> {
  const database = await createTestDatabase();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-test-'));
  const port = await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: `http://localhost:${port}`,
    DATABASE_URL: database.url,
    DATA_DIR: dataDir,
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: `nexus-test-${randomBytes(4).toString('hex')}:`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    CLIENTS_FILE: path.resolve('clients.json'),
    ...extraEnv,
  };
  const config = loadConfig(env);
  const log = createLogger(config.logLevel);

  let hub: Hub;
  let server: http.Server;
  const start = async () => {
    hub = await createHub(config, log);
    server = http.createServer(hub.handler);
    server.on('upgrade', hub.upgrade);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  };
  const stopServer = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await hub.close();
  };
  await start();

  const secrets = JSON.parse(await fs.readFile(path.join(dataDir, 'client-secrets.json'), 'utf8')) as Record<string, string>;
  const testHub: TestHub = {
    url: config.issuer,
    port,
    get hub() { return hub; },
    dataDir,
    database,
    env,
    secrets,
    async restart() {
      await stopServer();
      await start();
    },
    async stop() {
      await stopServer();
      await database.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
  return testHub;
}

export interface SecondInstance {
  hub: Hub;
  url: string;
  stop(): Promise<void>;
}

/**
 * Another hub instance on `first`'s database, master key (same DATA_DIR), Redis prefix and
 * issuer, as a second node behind one load balancer: the balancer passes the public Host on to
 * whichever node it picks, and the hub answers only for its issuer's host.
 */
export async function startSecondInstance(first: TestHub): Promise<SecondInstance> {
  const port = await freePort();
  const hub = await createHub(loadConfig({ ...first.env, PORT: String(port) }), createLogger('silent'));
  const { handler } = hub;
  const publicHost = new URL(first.url).host;
  const server = http.createServer((req, res) => {
    req.headers.host = publicHost;
    return handler(req, res);
  });
  server.on('upgrade', hub.upgrade);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    hub,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await hub.close();
    },
  };
}
