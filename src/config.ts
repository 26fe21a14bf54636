// Every environment variable the hub reads, validated once at start-up. Problems are collected
// and reported together, one line each, so an operator fixes them in a single pass.
import os from 'node:os';
import path from 'node:path';

export interface Config {
  /** TCP port the hub listens on. Default 3000. */
  port: number;
  /** Interface to bind. Default 0.0.0.0. */
  host: string;
  /** Public issuer URL (what tokens carry in `iss`). Default http://localhost:PORT. */
  issuer: string;
  /** PostgreSQL URL. Unset: an embedded PostgreSQL runs under DATA_DIR. */
  databaseUrl: string | undefined;
  /** Folder for the embedded database and the generated master key. Default ./data. */
  dataDir: string;
  /** Port of the embedded PostgreSQL (only without DATABASE_URL). Default 54329. */
  embeddedPgPort: number;
  /** Trust X-Forwarded-* headers from a TLS-terminating proxy. Default false. */
  trustProxy: boolean;
  /**
   * Proxies in front of the hub that append to X-Forwarded-For (only with trustProxy): the
   * client is that many entries from the right; entries further left are the client's own
   * claims. Default 1.
   */
  trustProxyHops: number;
  /** Redis URL for shared rate-limit counters. Unset: counters live in PostgreSQL. */
  redisUrl: string | undefined;
  /** Prefix of every Redis key the hub writes. Default nexus:. */
  redisPrefix: string;
  /** 32-byte key (base64/base64url) that encrypts secrets at rest. Unset: DATA_DIR/master.key. */
  masterKey: string | undefined;
  /** Registered projects to seed. Default ./clients.json. */
  clientsFile: string;
  /** Plans and their scopes and entitlements per project. Default ./plans.json. */
  plansFile: string;
  /**
   * Cross-project automation rules of the event bus. Default ./automations.json; a missing file
   * is no rules unless AUTOMATIONS_FILE names it (`automationsFileNamed`).
   */
  automationsFile: string;
  automationsFileNamed: boolean;
  /** Stripe; unset secretKey: billing is off and plans are set with `nexus plans set`. */
  stripe: { secretKey: string | undefined; webhookSecret: string | undefined; apiUrl: string | undefined };
  /**
   * Per-user activity (ANALYTICS_ACTIVITY, true): which user was active in which project on which
   * UTC day (activity_days), from tokens issued or refreshed and from gateway requests. false: no
   * such row is kept at all, for operators who must not keep who-was-active-when (a privacy
   * switch; rows written before stay until deleted). The daily counters (sign-ins, gateway
   * requests, webhooks) and the MRR snapshot still run; the actives, retention and cross-project
   * figures then count no new activity.
   */
  analyticsActivity: boolean;
  /** Bearer token that GET /metrics requires (METRICS_TOKEN); unset: /metrics answers loopback only. */
  metricsToken: string | undefined;
  /** pino log level. Default info. */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Lifetimes in seconds. */
  ttl: { accessToken: number; idToken: number; refreshToken: number; session: number };
  /** Failed logins allowed per account and per IP within `loginWindowSeconds`. */
  loginLimits: { perAccount: number; perIp: number; windowSeconds: number };
  /** Accounts that one IP may create per hour. */
  signupsPerIpPerHour: number;
  /** Sign-in interactions (login pages) that one IP may start per minute at /auth. */
  authorizationsPerIpPerMinute: number;
  /** Wrong user codes that one IP, and everyone together, may type on the device page per DEVICE_CODE_FAILURE_WINDOW seconds. */
  deviceCodeLimits: { wrongCodesPerIp: number; wrongCodesHubWide: number; windowSeconds: number };
  /**
   * The API gateway (/api/gateway/:project/*): seconds an upstream may take to send its answer's
   * headers (GATEWAY_TIMEOUT, 30) and between two chunks of a body (GATEWAY_IDLE_TIMEOUT, 300),
   * the largest request body (GATEWAY_MAX_BODY_BYTES, 10 MB), and how long a verified caller is
   * reused before its grant, account and key are read again (GATEWAY_VERIFY_CACHE_SECONDS, 5).
   */
  gateway: { timeoutSeconds: number; idleTimeoutSeconds: number; maxBodyBytes: number; verifyCacheSeconds: number };
  /**
   * The event bus: webhook targets may be http/loopback/private (WEBHOOKS_ALLOW_PRIVATE_URLS,
   * false: development and tests only), seconds a receiver has to answer (WEBHOOK_TIMEOUT, 15),
   * the delays between attempts (WEBHOOK_RETRY_SCHEDULE, 5s,5m,30m,2h,5h,10h,10h), how long an
   * endpoint may fail everything before it is disabled (WEBHOOK_DISABLE_AFTER, 5d), deliveries in
   * flight per instance (WEBHOOK_CONCURRENCY, 64), and whether this instance delivers (EVENT_WORKER, true).
   */
  events: { allowPrivateUrls: boolean; timeoutMs: number; retrySchedule: number[]; disableAfterMs: number; concurrency: number; worker: boolean };
  /** bcrypt worker threads, and hashes that may wait for one before logins get 503 + Retry-After. */
  passwordHashing: { workers: number; queueMax: number };
  /**
   * The hub's mail: SMTP_URL (smtp:// or smtps://, credentials in the URL; unset: each mail is
   * written to DATA_DIR/outbox/ as an .eml file), MAIL_FROM (default `Nexus <no-reply@ISSUER's
   * host>`), SMTP_TLS_CA_FILE (PEM certificates the SMTP server's is checked against instead of
   * the system's), seconds one send may take (SMTP_TIMEOUT, 30), the delays between attempts
   * (MAIL_RETRY_SCHEDULE, 30s,2m,10m,1h,6h), whether this instance sends (MAIL_WORKER, true), and
   * a folder of templates that replace the hub's own of the same name (MAIL_TEMPLATES_DIR).
   */
  mail: {
    smtpUrl: string | undefined; from: string; tlsCaFile: string | undefined; timeoutMs: number; retrySchedule: number[]; worker: boolean;
    templatesDir: string | undefined;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const DURATION_UNITS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `500ms`, `5s`, `30m`, `2h`, `5d`, comma-separated; undefined when any is not one. */
export function parseDurations(text: string): number[] | undefined {
  const values = text.split(',').map((part) => {
    const match = /^\s*(\d{1,9})(ms|s|m|h|d)\s*$/.exec(part);
    return match ? Number(match[1]) * DURATION_UNITS[match[2] as keyof typeof DURATION_UNITS] : NaN;
  });
  return values.every((v) => Number.isFinite(v) && v > 0) ? values : undefined;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];

  const read = (name: string) => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };

  const integer = (name: string, fallback: number, min: number, max: number) => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  };

  const boolean = (name: string, fallback: boolean) => {
    const raw = read(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    problems.push(`${name} must be true or false (got "${raw}")`);
    return fallback;
  };

  const url = (name: string, protocols: string[]) => {
    const raw = read(name);
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) {
        problems.push(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
      }
      return raw;
    } catch {
      // Never echo the value: database and Redis URLs carry passwords.
      problems.push(`${name} is not a valid URL`);
      return undefined;
    }
  };

  const durations = (name: string, fallback: string): number[] => {
    const raw = read(name);
    const parsed = parseDurations(raw ?? fallback);
    if (parsed) return parsed;
    problems.push(`${name} must be durations such as 5s, 30m, 2h or 5d, separated by commas (got "${raw}")`);
    return parseDurations(fallback)!;
  };

  const port = integer('PORT', 3000, 1, 65535);
  const passwordWorkers = integer('PASSWORD_WORKERS', os.availableParallelism(), 1, 256);

  let issuer = url('ISSUER', ['http:', 'https:']) ?? `http://localhost:${port}`;
  if (read('ISSUER')) {
    const parsed = new URL(issuer);
    if (parsed.search || parsed.hash) problems.push('ISSUER must not have a query or fragment');
    if (parsed.pathname !== '/') problems.push('ISSUER must be the root of its host, without a path (e.g. https://id.example.com)');
    issuer = issuer.replace(/\/+$/, '');
  }

  const logLevel = (read('LOG_LEVEL') ?? 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  }

  const masterKey = read('NEXUS_MASTER_KEY');
  if (masterKey !== undefined && Buffer.from(masterKey, 'base64url').length !== 32) {
    problems.push('NEXUS_MASTER_KEY must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)');
  }

  const stripeKey = read('STRIPE_SECRET_KEY');
  if (stripeKey !== undefined && !/^(sk|rk)_(test|live)_\w+$/.test(stripeKey)) {
    problems.push('STRIPE_SECRET_KEY must be a Stripe secret or restricted key (sk_test_..., sk_live_..., rk_...)');
  }
  const webhookSecret = read('STRIPE_WEBHOOK_SECRET');
  if (webhookSecret !== undefined && !webhookSecret.startsWith('whsec_')) problems.push('STRIPE_WEBHOOK_SECRET must be a webhook signing secret (whsec_...)');
  if (webhookSecret !== undefined && stripeKey === undefined) problems.push('STRIPE_WEBHOOK_SECRET is set but STRIPE_SECRET_KEY is not');

  // A display name and an address, or an address; nothing that could end the header.
  const mailFrom = read('MAIL_FROM') ?? `Nexus <no-reply@${new URL(issuer).hostname}>`;
  if (read('MAIL_FROM') !== undefined && !/^(?:[^\p{C}<>]*<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/u.test(mailFrom)) {
    problems.push('MAIL_FROM must be an address, or a name and an address (e.g. Nexus <no-reply@id.example.com>)');
  }
  const smtpUrl = url('SMTP_URL', ['smtp:', 'smtps:']);
  if (smtpUrl !== undefined && new URL(smtpUrl).hostname === '') problems.push('SMTP_URL must name the SMTP server\'s host');
  const smtpCaFile = read('SMTP_TLS_CA_FILE');
  if (smtpCaFile !== undefined && smtpUrl === undefined) problems.push('SMTP_TLS_CA_FILE is set but SMTP_URL is not');
  const mailTemplatesDir = read('MAIL_TEMPLATES_DIR');

  const metricsToken = read('METRICS_TOKEN');
  if (metricsToken !== undefined && !/^[\x21-\x7e]{16,512}$/.test(metricsToken)) problems.push('METRICS_TOKEN must be 16 to 512 printable characters without spaces (e.g. `openssl rand -hex 32`)');

  const trustProxy = boolean('TRUST_PROXY', false);
  if (read('TRUST_PROXY_HOPS') !== undefined && !trustProxy) problems.push('TRUST_PROXY_HOPS is set but TRUST_PROXY is not true');
  // The hub itself speaks plain HTTP, and Koa refuses to set a Secure cookie on a request it
  // does not know arrived over TLS: an https issuer needs the proxy's X-Forwarded-Proto.
  if (issuer.startsWith('https:') && !trustProxy) {
    problems.push('ISSUER is https but TRUST_PROXY is not true: the hub listens on plain HTTP, so run it behind a TLS-terminating proxy and set TRUST_PROXY=true');
  }

  const config: Config = {
    port,
    host: read('HOST') ?? '0.0.0.0',
    issuer,
    databaseUrl: url('DATABASE_URL', ['postgres:', 'postgresql:']),
    dataDir: path.resolve(read('DATA_DIR') ?? 'data'),
    embeddedPgPort: integer('EMBEDDED_PG_PORT', 54329, 1, 65535),
    trustProxy,
    trustProxyHops: integer('TRUST_PROXY_HOPS', 1, 1, 20),
    redisUrl: url('REDIS_URL', ['redis:', 'rediss:']),
    redisPrefix: read('REDIS_PREFIX') ?? 'nexus:',
    masterKey,
    clientsFile: path.resolve(read('CLIENTS_FILE') ?? 'clients.json'),
    plansFile: path.resolve(read('PLANS_FILE') ?? 'plans.json'),
    automationsFile: path.resolve(read('AUTOMATIONS_FILE') ?? 'automations.json'),
    automationsFileNamed: read('AUTOMATIONS_FILE') !== undefined,
    stripe: { secretKey: stripeKey, webhookSecret, apiUrl: url('STRIPE_API_URL', ['http:', 'https:']) },
    logLevel,
    analyticsActivity: boolean('ANALYTICS_ACTIVITY', true),
    metricsToken,
    ttl: {
      accessToken: integer('ACCESS_TOKEN_TTL', 15 * 60, 60, 24 * 3600),
      idToken: integer('ID_TOKEN_TTL', 60 * 60, 60, 24 * 3600),
      refreshToken: integer('REFRESH_TOKEN_TTL', 30 * 24 * 3600, 3600, 365 * 24 * 3600),
      session: integer('SESSION_TTL', 14 * 24 * 3600, 600, 365 * 24 * 3600),
    },
    signupsPerIpPerHour: integer('SIGNUPS_PER_IP_PER_HOUR', 20, 1, 100000),
    authorizationsPerIpPerMinute: integer('AUTHORIZATIONS_PER_IP_PER_MINUTE', 300, 1, 1_000_000),
    deviceCodeLimits: {
      wrongCodesPerIp: integer('DEVICE_CODE_FAILURES_PER_IP', 10, 1, 100000),
      wrongCodesHubWide: integer('DEVICE_CODE_FAILURES_TOTAL', 1000, 1, 10_000_000),
      windowSeconds: integer('DEVICE_CODE_FAILURE_WINDOW', 15 * 60, 10, 24 * 3600),
    },
    gateway: {
      timeoutSeconds: integer('GATEWAY_TIMEOUT', 30, 1, 3600),
      idleTimeoutSeconds: integer('GATEWAY_IDLE_TIMEOUT', 300, 1, 24 * 3600),
      maxBodyBytes: integer('GATEWAY_MAX_BODY_BYTES', 10 * 1024 * 1024, 0, 1024 ** 3),
      verifyCacheSeconds: integer('GATEWAY_VERIFY_CACHE_SECONDS', 5, 0, 5),
    },
    events: {
      allowPrivateUrls: boolean('WEBHOOKS_ALLOW_PRIVATE_URLS', false),
      timeoutMs: integer('WEBHOOK_TIMEOUT', 15, 1, 300) * 1000,
      retrySchedule: durations('WEBHOOK_RETRY_SCHEDULE', '5s,5m,30m,2h,5h,10h,10h'),
      disableAfterMs: durations('WEBHOOK_DISABLE_AFTER', '5d')[0],
      concurrency: integer('WEBHOOK_CONCURRENCY', 64, 1, 10_000),
      worker: boolean('EVENT_WORKER', true),
    },
    passwordHashing: { workers: passwordWorkers, queueMax: integer('PASSWORD_QUEUE_MAX', 64 * passwordWorkers, 0, 1_000_000) },
    mail: {
      smtpUrl,
      from: mailFrom,
      tlsCaFile: smtpCaFile === undefined ? undefined : path.resolve(smtpCaFile),
      timeoutMs: integer('SMTP_TIMEOUT', 30, 1, 600) * 1000,
      retrySchedule: durations('MAIL_RETRY_SCHEDULE', '30s,2m,10m,1h,6h'),
      worker: boolean('MAIL_WORKER', true),
      templatesDir: mailTemplatesDir === undefined ? undefined : path.resolve(mailTemplatesDir),
    },
    loginLimits: {
      perAccount: integer('LOGIN_MAX_FAILURES_PER_ACCOUNT', 5, 1, 1000),
      perIp: integer('LOGIN_MAX_FAILURES_PER_IP', 50, 1, 100000),
      windowSeconds: integer('LOGIN_FAILURE_WINDOW', 15 * 60, 10, 24 * 3600),
    },
  };

  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
