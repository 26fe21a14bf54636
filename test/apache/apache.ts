// Runs a private Apache httpd (Debian's apache2 + mod_auth_openidc) for one test file: its own
// ServerRoot in a temp dir, one loopback port, in the foreground as a child process of the test
// so that it can be stopped by its process id (and never outlives the test run).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const APACHE_BINARY = '/usr/sbin/apache2';
export const MODULES_DIR = '/usr/lib/apache2/modules';
export const OPENIDC_MODULE = `${MODULES_DIR}/mod_auth_openidc.so`;
const TEMPLATE = fileURLToPath(new URL('./httpd.conf.template', import.meta.url));
const CGI_SCRIPT = fileURLToPath(new URL('./whoami.cgi', import.meta.url));

/**
 * Why Apache cannot run here, or undefined when it can. Only the two packages' main files count:
 * with them installed, anything else missing is a broken install and must fail, not skip.
 */
export function apacheMissing(): string | undefined {
  for (const file of [APACHE_BINARY, OPENIDC_MODULE]) {
    if (!existsSync(file)) return `${file} is missing (apt-get install -y apache2 libapache2-mod-auth-openidc)`;
  }
  return undefined;
}

export interface ApacheOptions {
  port: number;
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Extra mod_auth_openidc directives, one per line. */
  extraOidc?: string;
  /**
   * LogLevel for auth_openidc (default info, or NEXUS_APACHE_OIDC_LOG_LEVEL): debug shows every
   * protocol step in logs/error.log; with NEXUS_KEEP_APACHE=1 the log survives the run.
   */
  oidcLogLevel?: string;
}

export interface Apache {
  url: string;
  port: number;
  serverRoot: string;
  confPath: string;
  pid: number;
  errorLog(): string;
  accessLog(): string;
  /** Stops httpd and its workers; resolves once none of them is left. Safe to call twice. */
  stop(): Promise<void>;
}

/** A user Apache can switch to when started as root (it refuses to serve requests as root). */
function unprivilegedAccount(): { user: string; group: string } {
  const passwd = readFileSync('/etc/passwd', 'utf8');
  const groups = readFileSync('/etc/group', 'utf8');
  const has = (file: string, name: string) => file.split('\n').some((line) => line.startsWith(`${name}:`));
  if (has(passwd, 'www-data') && has(groups, 'www-data')) return { user: 'www-data', group: 'www-data' };
  return { user: 'nobody', group: has(groups, 'nogroup') ? 'nogroup' : 'nobody' };
}

/** Process ids of any httpd still running with this configuration file (workers included). */
export async function processesUsing(confPath: string): Promise<number[]> {
  try {
    const { stdout } = await run('pgrep', ['-f', '--', confPath]);
    return stdout.split('\n').filter(Boolean).map(Number).filter((pid) => pid !== process.pid);
  } catch (error) {
    if ((error as { code?: number }).code === 1) return []; // pgrep: nothing matched
    throw error;
  }
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function startApache(options: ApacheOptions): Promise<Apache> {
  const serverRoot = await fs.mkdtemp(path.join(os.tmpdir(), 'nexus-apache-'));
  try {
    return await launch(serverRoot, options);
  } catch (error) {
    if (!process.env.NEXUS_KEEP_APACHE) await fs.rm(serverRoot, { recursive: true, force: true });
    throw error;
  }
}

async function launch(serverRoot: string, options: ApacheOptions): Promise<Apache> {
  for (const dir of ['run', 'logs', 'htdocs', 'cgi-bin']) await fs.mkdir(path.join(serverRoot, dir));
  // Workers run as an unprivileged user when the test runs as root: they must reach the script.
  for (const dir of ['', 'htdocs', 'cgi-bin']) await fs.chmod(path.join(serverRoot, dir), 0o755);
  await fs.writeFile(path.join(serverRoot, 'htdocs', 'index.html'), '<!doctype html><title>public</title><p>public page</p>\n');
  await fs.writeFile(path.join(serverRoot, 'htdocs', 'logged-out.html'), '<!doctype html><title>bye</title><p>signed out of the Apache app</p>\n');
  await fs.copyFile(CGI_SCRIPT, path.join(serverRoot, 'cgi-bin', 'whoami.cgi'));
  await fs.chmod(path.join(serverRoot, 'cgi-bin', 'whoami.cgi'), 0o755);

  const account = unprivilegedAccount();
  const values: Record<string, string> = {
    SERVER_ROOT: serverRoot,
    PORT: String(options.port),
    ISSUER: options.issuer,
    CLIENT_ID: options.clientId,
    CLIENT_SECRET: options.clientSecret,
    PASSPHRASE: randomBytes(24).toString('base64url'),
    RUN_AS: process.getuid?.() === 0 ? `User ${account.user}\nGroup ${account.group}` : '',
    EXTRA_OIDC: options.extraOidc ?? '',
    OIDC_LOG_LEVEL: options.oidcLogLevel ?? process.env.NEXUS_APACHE_OIDC_LOG_LEVEL ?? 'info',
  };
  const template = await fs.readFile(TEMPLATE, 'utf8');
  const conf = template.replace(/\{\{([A-Z_]+)\}\}/g, (_, key: string) => {
    if (!(key in values)) throw new Error(`httpd.conf.template: unknown placeholder {{${key}}}`);
    return values[key];
  });
  const confPath = path.join(serverRoot, 'httpd.conf');
  await fs.writeFile(confPath, conf);

  const errorLogPath = path.join(serverRoot, 'logs', 'error.log');
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  };
  const errorLog = () => read(errorLogPath);
  const accessLog = () => read(path.join(serverRoot, 'logs', 'access.log'));

  // Fail early and clearly on a configuration error.
  try {
    await run(APACHE_BINARY, ['-f', confPath, '-t'], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' } });
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    throw new Error(`apache2 -t rejected ${confPath}:\n${stderr ?? ''}${stdout ?? ''}`);
  }

  const child = spawn(APACHE_BINARY, ['-f', confPath, '-DFOREGROUND'], {
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: on shutdown httpd signals its whole group, which must not be ours.
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  // If the test worker dies without running afterAll, take httpd with it.
  const killOnExit = () => { child.kill('SIGKILL'); };
  process.once('exit', killOnExit);

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      if (!(await waitForExit(child, 0))) {
        child.kill('SIGTERM'); // graceful-stop: the parent stops its workers, then exits
        if (!(await waitForExit(child, 10_000))) {
          child.kill('SIGKILL');
          await waitForExit(child, 5_000);
        }
      }
      process.removeListener('exit', killOnExit);
      // Workers orphaned by a SIGKILLed parent would still carry our configuration path.
      for (let attempt = 0; attempt < 20; attempt++) {
        const left = await processesUsing(confPath);
        if (!left.length) break;
        if (attempt >= 10) for (const pid of left) try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const left = await processesUsing(confPath);
      if (left.length) throw new Error(`apache2 processes still running after stop: ${left.join(', ')}`);
      // NEXUS_KEEP_APACHE=1 keeps the ServerRoot (configuration and logs) for a post-mortem.
      if (!process.env.NEXUS_KEEP_APACHE) await fs.rm(serverRoot, { recursive: true, force: true });
    })();
    return stopped;
  };

  const url = `http://localhost:${options.port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`apache2 exited during start-up (${child.exitCode ?? child.signalCode}):\n${output}\n${errorLog()}`);
    }
    const up = await fetch(`http://127.0.0.1:${options.port}/index.html`, { redirect: 'manual' }).then((r) => r.status === 200, () => false);
    if (up) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`apache2 did not answer on 127.0.0.1:${options.port} within 15 s:\n${output}\n${errorLog()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return { url, port: options.port, serverRoot, confPath, pid: child.pid!, errorLog, accessLog, stop };
}
