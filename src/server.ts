// Process entry: configuration, the hub, HTTP, graceful shutdown.
import http from 'node:http';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { createHub } from './app.js';
import { PlansError } from './billing/plans.js';
import { AutomationsError } from './events/automations.js';

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  let hub;
  try {
    hub = await createHub(config, log);
  } catch (error) {
    if (error instanceof PlansError || error instanceof AutomationsError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }

  const server = http.createServer(hub.handler);
  server.on('upgrade', hub.upgrade); // WebSockets through the gateway
  server.keepAliveTimeout = 65_000; // longer than common load balancers' idle timeout
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  log.info({ issuer: config.issuer, port: config.port, database: config.databaseUrl ? 'external' : 'embedded' }, 'Nexus hub listening');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    server.close();
    server.closeIdleConnections();
    await hub.close();
    log.info('stopped');
    // Exit only once the log lines are written: stdout may be a pipe with writes pending.
    log.flush(() => process.exit(0));
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

// One line whatever was thrown: some libraries reject with a string, or with nothing at all.
function reason(error: unknown) {
  const text = error instanceof Error ? error.message : String(error ?? '');
  return text.replace(/\s+/g, ' ').trim() || 'unknown error (no reason given)';
}

main().catch((error: unknown) => {
  process.stderr.write(`Nexus failed to start: ${reason(error)}\n`);
  process.exit(1);
});
