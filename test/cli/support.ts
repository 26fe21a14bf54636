// Runs the real `nexus` CLI (scripts/nexus.mjs) as a child process against a test hub's
// database and DATA_DIR, so it shares the hub's master key and its changes reach the running hub.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { TestHub } from '../support/hub.js';
import { basicAuth } from '../support/oauth.js';
import { coverageEnv } from '../support/process.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENTRY = path.join(ROOT, 'scripts/nexus.mjs');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Written to standard input, which is then closed. Without it standard input is empty (not a TTY). */
  stdin?: string;
  /** Extra or overriding environment variables. */
  env?: Record<string, string>;
}

/** Environment of a CLI process: the hub's own environment (or none), quiet logs. */
function cliEnv(t: TestHub | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    ...coverageEnv(),
    ...(t?.env ?? {}),
    LOG_LEVEL: 'silent',
    ...extra,
  };
}

/**
 * Runs `nexus ...args`; never throws on a non-zero exit status. A process still running after
 * 45 s is killed (exit status null) so a hang fails its test clearly. NEXUS_CLI_TIMING=1 logs
 * each invocation's duration to standard error.
 */
export function run(t: TestHub | undefined, args: string[], options: CliOptions = {}): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ENTRY, ...args], {
      cwd: ROOT,
      env: cliEnv(t, options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 45_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (process.env.NEXUS_CLI_TIMING) process.stderr.write(`nexus ${args.join(' ')} -> ${code} in ${Date.now() - started} ms\n`);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // the command may exit before reading its input
    child.stdin.end(options.stdin ?? '');
  });
}

/** `nexus(t, 'clients', 'list')`: runs the CLI against test hub t. */
export function nexus(t: TestHub | undefined, ...args: string[]): Promise<CliResult> {
  return run(t, args);
}

/** Runs the CLI with `--json` appended, expects success and returns the parsed standard output. */
export async function nexusJson<T = any>(t: TestHub, ...args: string[]): Promise<T> {
  const result = await run(t, [...args, '--json']);
  expectSuccess(result);
  return JSON.parse(result.stdout) as T;
}

export function expectSuccess(result: CliResult) {
  expect(result, `nexus failed:\n${result.stderr}`).toMatchObject({ code: 0 });
  expect(result.stderr).toBe('');
}

/**
 * Expects a failure: the exit status, and exactly one line `nexus: <reason>` on standard error
 * with the reason matching `reason`.
 */
export function expectFailure(result: CliResult, code: number, reason: RegExp | string) {
  expect(result.code, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(code);
  const lines = result.stderr.split('\n');
  expect(lines.at(-1), 'standard error ends with a newline').toBe('');
  expect(lines.slice(0, -1), `exactly one line on standard error:\n${result.stderr}`).toHaveLength(1);
  expect(lines[0]).toMatch(/^nexus: \S/);
  if (typeof reason === 'string') expect(lines[0]).toContain(reason);
  else expect(lines[0].slice('nexus: '.length)).toMatch(reason);
}

/** Polls until check() is true (a running hub picks CLI changes up through LISTEN/NOTIFY). */
export async function waitFor(check: () => Promise<boolean>, what = 'condition', ms = 10_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what}: not met within ${ms} ms`);
}

/** Runs jobs with at most `limit` at a time (CLI processes are CPU-heavy on a small machine). */
export async function pool<T, R>(items: T[], limit: number, job: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await job(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A client_credentials token request authenticated with an explicit secret (client_secret_basic). */
export async function clientCredentials(t: TestHub, clientId: string, secret: string, scope?: string) {
  const body = new URLSearchParams({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) });
  const response = await fetch(`${t.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(clientId, secret) },
    body,
  });
  const text = await response.text();
  let json: Record<string, string> = {};
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: callers assert on status
  }
  return { status: response.status, body: json };
}
