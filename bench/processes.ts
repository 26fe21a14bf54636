// Child processes and scratch resources of a benchmark run, and their guaranteed clean-up:
// every resource registers an undo step; `cleanUp()` runs them newest first, once, on success,
// failure or Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import http from 'node:http';
import pg from 'pg';

const undo: Array<{ what: string; run: () => Promise<void> }> = [];
let cleaning: Promise<void> | undefined;

export function onCleanUp(what: string, run: () => Promise<void>) {
  undo.push({ what, run });
}

export function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    while (undo.length) {
      const step = undo.pop()!;
      try {
        await step.run();
      } catch (error) {
        process.stderr.write(`clean-up of ${step.what} failed: ${(error as Error).message}\n`);
      }
    }
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: cleaning up...\n`);
    void cleanUp().finally(() => process.exit(130));
  });
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface Child {
  process: ChildProcess;
  pid: number;
  /** The last lines the child wrote to stdout and stderr. */
  output(): string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

const children: Array<{ name: string; child: Child }> = [];

/** The last output lines of every child started so far (for failure reports). */
export function childOutputs(): string {
  return children.map(({ name, child }) => `--- ${name} (pid ${child.pid}), last output:\n${child.output() || '(none)'}`).join('\n');
}

/** Starts `node <args>` (so the pid is node's own, not a shell's) and registers its stop. */
export function startNode(name: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Child {
  const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
  if (!child.pid) throw new Error(`${name} did not start`);
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 60) lines.splice(0, lines.length - 60);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let running = true;
  void exited.then(() => { running = false; });

  const stop = async () => {
    if (!running) return;
    child.kill('SIGTERM');
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 8_000).unref());
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
  };
  onCleanUp(`${name} (pid ${child.pid})`, stop);
  const started: Child = { process: child, pid: child.pid, output: () => lines.join('\n'), exited, stop };
  children.push({ name, child: started });
  return started;
}

/** Polls GET <path> until it answers 200; fails early if the child exits. */
export async function waitUntilReady(child: Child, port: number, path: string, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void child.exited.then((code) => { exitCode = code; });
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`process exited (code ${exitCode}) before it was ready:\n${child.output()}`);
    const status = await new Promise<number>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.setTimeout(2_000, () => req.destroy());
      req.on('error', () => resolve(0));
    });
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`not ready after ${timeoutMs} ms:\n${child.output()}`);
}

/**
 * Runs `node <args>` to completion; resolves with its stdout, rejects with its output.
 * `onOutput` also sees stdout and stderr as they come (for progress).
 */
export function runNode(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; onOutput?: (text: string) => void }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk; options.onOutput?.(chunk.toString('utf8')); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk; options.onOutput?.(chunk.toString('utf8')); });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`node ${args.join(' ')} exited ${code}:\n${stdout}${stderr}`))));
  });
}

export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(prefix);
  onCleanUp(`temp dir ${dir}`, () => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs one statement on the server's administrative database (`adminUrl`). */
async function onServer(adminUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** A new, empty database named `<prefix>_<pid>_<random>` on the server, dropped at clean-up; its URL. */
export async function createBenchDatabase(adminUrl: string, prefix: string, { keep = false } = {}): Promise<string> {
  const name = `${prefix}_${process.pid}_${randomBytes(3).toString('hex')}`;
  await onServer(adminUrl, `CREATE DATABASE ${name}`);
  if (!keep) onCleanUp(`database ${name}`, () => onServer(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
