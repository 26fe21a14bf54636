// Helpers for the headless-Chromium tests: launching Debian's chromium through playwright-core,
// running an example project on the port its client is registered with, and screenshots.
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium; never `npx playwright install` (no download on this machine or in CI). */
export const CHROMIUM_PATH = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM_PATH);

// Chromium as root in a container: no sandbox, no GPU, nothing phoning home.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** playwright-core gives every launch its own empty, temporary --user-data-dir. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 60_000 });
}

export const ARTIFACTS_DIR = fileURLToPath(new URL('../../test-artifacts/browser/', import.meta.url));

/** Saves a full-page screenshot as test-artifacts/browser/<name>.png; never throws. */
export async function screenshot(page: Page | undefined, name: string): Promise<string | undefined> {
  if (!page || page.isClosed()) return undefined;
  const file = path.join(ARTIFACTS_DIR, `${name}.png`);
  try {
    await fs.mkdir(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: file, fullPage: true, timeout: 10_000 });
    return file;
  } catch (error) {
    console.warn(`screenshot ${name} failed: ${(error as Error).message}`);
    return undefined;
  }
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => { server.off('listening', onListening); reject(error); };
    const onListening = () => { server.off('error', onError); resolve(); };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/**
 * Serves `handler` on 127.0.0.1:`port`, the port a project's redirect URIs are registered with at
 * the hub. Fails with a clear message when something else already holds the port, including on
 * [::1], which Chromium may try first for "localhost".
 */
export async function listenOnRegisteredPort(handler: http.RequestListener, port: number): Promise<http.Server> {
  const busy = (where: string) => new Error(
    `Port ${port} is busy (${where}): the example project must listen on http://localhost:${port} because that is ` +
    `the redirect URI registered for its client in clients.json. Stop whatever is listening there (ss -ltnp | grep :${port}) and run the test again.`,
  );
  // Nothing may answer on [::1]:port either, or Chromium could reach that instead of this server.
  const probe = http.createServer();
  try {
    await listen(probe, port, '::1');
    await new Promise((resolve) => probe.close(resolve));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw busy('[::1]');
    // EADDRNOTAVAIL / EAFNOSUPPORT: no IPv6 loopback here, so Chromium cannot use it either.
  }
  const server = http.createServer(handler);
  try {
    await listen(server, port, '127.0.0.1');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw busy('127.0.0.1');
    throw error;
  }
  return server;
}

export { closeServer } from '../support/process.js';
