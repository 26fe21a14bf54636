// Composes the hub: database, libraries, oidc-provider and our routes, in one Koa app.
import fs from 'node:fs/promises';
import type { RequestListener } from 'node:http';
import path from 'node:path';
import compose from 'koa-compose';
import Koa from 'koa';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { Database } from './db/database.js';
import type { SecretBox } from './secrets/box.js';
import { openCore } from './core.js';
import { listenForChanges, publishChange, RELOAD_INTERVAL_MS, type ChangeListener } from './db/changes.js';
import { AdminOperations } from './admin/operations.js';
import { requireHubAdmin } from './admin/auth.js';
import { adminRoutes } from './admin/routes.js';
import { AnalyticsQueries } from './analytics/queries.js';
import { AnalyticsRecording } from './analytics/recording.js';
import { analyticsAccess } from './analytics/access.js';
import { analyticsRoutes } from './analytics/routes.js';
import { userinfoRoutes } from './oidc/userinfo.js';
import { ownTokenVerifier } from './oidc/own-tokens.js';
import { liveTokenCheck } from './oidc/live-token.js';
import { PlanChangeLinks } from './billing/plan-change-links.js';
import { Plans } from './billing/plans.js';
import { Subscriptions } from './billing/subscriptions.js';
import { PlanEntitlements } from './billing/entitlements.js';
import { Billing } from './billing/billing.js';
import { StripeWebhooks } from './billing/webhooks.js';
import { billingRoutes } from './billing/routes.js';
import { AccountSession } from './account-center/signed-in.js';
import { securityRoutes } from './account-center/security-routes.js';
import { appsRoutes } from './account-center/apps-routes.js';
import { profileRoutes } from './account-center/profile-routes.js';
import { keysRoutes } from './account-center/keys-routes.js';
import { dataRoutes } from './account-center/data-routes.js';
import { passkeysRoutes } from './account-center/passkeys-routes.js';
import { Passkeys } from './mfa/passkeys.js';
import { passkeyRoutes } from './interactions/passkey-routes.js';
import { AccountDeletion } from './account-center/deletion.js';
import { DashboardCards } from './dashboard/cards.js';
import { dashboardRoutes } from './dashboard/routes.js';
import { UserExport } from './accounts/user-export.js';
import { EmailFlows } from './account-center/email-flows.js';
import { EmailLimits } from './account-center/email-limits.js';
import { emailRoutes } from './account-center/email-routes.js';
import { AccountLinks } from './accounts/account-links.js';
import { accountSignInRoutes, ensureAccountClient } from './http/account-sign-in.js';
import { ConsoleSession } from './console/session.js';
import { consoleRoutes } from './console/routes.js';
import { KeyStore } from './keys/store.js';
import { ClientRegistry } from './clients/registry.js';
import { readClientsFile, syncClients } from './clients/sync.js';
import { Users } from './accounts/users.js';
import { holdPasswordPool } from './accounts/password-pool.js';
import { ProjectAccess } from './accounts/access.js';
import { LoginThrottle } from './security/login-throttle.js';
import type { LimiterStore } from './security/limiter.js';
import { RedisLink } from './security/redis.js';
import { ApiKeys } from './accounts/api-keys.js';
import { Consents } from './accounts/consents.js';
import { HubSessions } from './accounts/hub-sessions.js';
import { createProvider } from './oidc/provider.js';
import { ProviderHost } from './oidc/provider-host.js';
import { sweepExpired } from './oidc/adapter.js';
import { postOnlyEndpoints } from './oidc/endpoint-methods.js';
import { providerFirst } from './oidc/provider-first.js';
import { authorizationGuard } from './oidc/authorization-guard.js';
import { deviceCodeGuard } from './oidc/device-code-guard.js';
import { issuerHostOnly } from './http/issuer-host.js';
import { Csrf } from './interactions/csrf.js';
import { interactionRoutes } from './interactions/routes.js';
import { createSecondFactors } from './mfa/services.js';
import { CodeLimit } from './mfa/code-limit.js';
import { SecondFactorStep } from './mfa/second-factor.js';
import { SecondFactorPages } from './mfa/sign-in-routes.js';
import { mfaRoutes } from './account-center/mfa-routes.js';
import { requestLog } from './http/request-log.js';
import { HubMetrics } from './metrics/registry.js';
import { countRequests } from './metrics/http-requests.js';
import { collectHubState } from './metrics/collectors.js';
import { metricsRoutes } from './metrics/routes.js';
import { transportSecurity } from './http/transport-security.js';
import { errorHandler } from './http/errors.js';
import { healthRoutes } from './http/health.js';
import { assetRoutes } from './http/assets.js';
import { render } from './http/render.js';
import { ClientError } from './clients/registry.js';
import { Gateway } from './gateway/gateway.js';
import { Callers } from './gateway/caller.js';
import { AssertionSigner } from './gateway/assertion.js';
import { GatewayLimiter } from './gateway/rate-limit.js';
import { gatewayFirst, gatewayUpgrade } from './gateway/listener.js';
import { EventBus } from './events/bus.js';
import { Automations } from './events/automations.js';
import { automationRunner } from './events/automation-runner.js';
import { webhookDispatcher } from './events/ssrf.js';
import { LogoutDelivery, withBackchannelLogout } from './logout/delivery.js';
import { EventOperations } from './events/operations.js';
import { eventRoutes } from './events/routes.js';
import { eventsFirst } from './events/emit-first.js';
import { Mailer } from './mail/mailer.js';
import { createMailWorker } from './mail/mail-worker.js';
import type { MailWorker } from './mail/worker.js';

const SWEEP_INTERVAL_MS = 10 * 60_000;

export interface Hub {
  /** Our routes and oidc-provider's; the HTTP server runs `handler`, which puts the gateway first. */
  app: Koa;
  /** The HTTP server's request listener: `http.createServer(hub.handler)`. */
  handler: RequestListener;
  config: Config;
  db: Database;
  keys: KeyStore;
  clients: ClientRegistry;
  users: Users;
  subscriptions: Subscriptions;
  plans: Plans;
  host: ProviderHost;
  /** The API gateway (/api/gateway/:project/*): its counters are `gateway.metrics.snapshot()`. */
  gateway: Gateway;
  /** The event bus: store, endpoints, deliveries, and this instance's delivery worker. */
  bus: EventBus;
  /** Attach to the HTTP server: `server.on('upgrade', hub.upgrade)` (WebSockets through the gateway). */
  upgrade: ReturnType<typeof gatewayUpgrade>;
  /** Queues mail (`hub.mail.send`), in the caller's transaction when given one. */
  mail: Mailer;
  /** This instance's mail worker; undefined with MAIL_WORKER=false. */
  mailWorker: MailWorker | undefined;
  /** The analytics figures (/api/analytics/*, the console's charts). */
  analytics: AnalyticsQueries;
  /** Activity and counters of this instance: `hub.recording.flush()` writes them now. */
  recording: AnalyticsRecording;
  close(): Promise<void>;
}

// New client secrets go to a private file, never to the log.
async function revealNewSecrets(config: Config, created: Array<{ id: string; secret: string | undefined }>, log: Logger) {
  const secrets = Object.fromEntries(created.filter((c) => c.secret).map((c) => [c.id, c.secret]));
  if (Object.keys(secrets).length === 0) return;
  const file = path.join(config.dataDir, 'client-secrets.json');
  const previous = await fs.readFile(file, 'utf8').then((text) => JSON.parse(text) as object, () => ({}));
  await fs.writeFile(file, `${JSON.stringify({ ...previous, ...secrets }, null, 2)}\n`, { mode: 0o600 });
  await fs.chmod(file, 0o600);
  log.warn({ file, clients: Object.keys(secrets) }, 'new client secrets written (shown once): copy them to the projects, then delete the file');
}

async function seedClients(config: Config, clients: ClientRegistry, log: Logger) {
  const definitions = await readClientsFile(config.clientsFile).catch((error) => {
    log.warn({ file: config.clientsFile, err: (error as Error).message }, 'clients file not applied');
    return [];
  });
  const registered = new Set((await clients.list()).map((c) => c.id));
  const missing = definitions.filter((d) => !registered.has(d.id));
  try {
    const { created } = await syncClients(clients, missing);
    if (created.length) log.info({ clients: created.map((c) => c.id) }, 'clients seeded from clients file');
    await revealNewSecrets(config, created, log);
  } catch (error) {
    // Another instance seeding at the same moment: its rows are as good as ours.
    if (!(error instanceof ClientError && error.code === 'already_exists')) throw error;
  }
}

/** The libraries, on one database: everything the routes and oidc-provider ask. */
async function createServices(config: Config, db: Database, box: SecretBox, log: Logger) {
  const { prisma } = db;
  const keys = new KeyStore(prisma, box);
  await keys.ensure();
  // First: the libraries publish their changes on it, in the changes' own transactions.
  const bus = new EventBus({
    prisma, pool: db.pool, box, log, projectExists: (id) => clients.get(id).then(() => true, () => false),
  }, config.events);
  const clients: ClientRegistry = new ClientRegistry(prisma, box, bus, { allowPrivateUrls: config.events.allowPrivateUrls });
  await seedClients(config, clients, log);
  await ensureAccountClient(clients, config.issuer, log);
  const users = new Users(prisma, bus);
  const access = new ProjectAccess(prisma, bus);
  const apiKeys = new ApiKeys(prisma, bus);
  const consents = new Consents(prisma, bus);
  const sessions = new HubSessions(prisma, bus);
  const mail = new Mailer(prisma, box);
  const mailWorker = await createMailWorker(config, prisma, box, log);
  // Analytics: the figures (/api/analytics, the console) and their recording, off the request path.
  const analytics = new AnalyticsQueries(db.pool);
  const recording = new AnalyticsRecording(db.pool, log, { activity: config.analyticsActivity });

  const redis = config.redisUrl ? new RedisLink(config.redisUrl, log) : undefined;
  const limiterStore: LimiterStore = redis ? { redis, prefix: config.redisPrefix } : { pool: db.pool };
  const throttle = new LoginThrottle(limiterStore, config.loginLimits, config.signupsPerIpPerHour);
  // Second factors (src/mfa): TOTP sealed with the hub's box, recovery codes, the operators' reset.
  const mfa = { ...createSecondFactors(prisma, box, mail, bus), limit: new CodeLimit(limiterStore) };

  const projectIds = (await clients.list()).map((client) => client.id);
  const plans = Plans.fromFile(config.plansFile, projectIds);
  const automations = Automations.fromFile(config.automationsFile, projectIds, config.automationsFileNamed);
  bus.useRules(withBackchannelLogout(automations.rulesOf));
  const subscriptions = new Subscriptions(prisma, plans, bus);
  const entitlements = new PlanEntitlements(plans, subscriptions, access);
  // Loaded only when billing is on: the Stripe library is a fair share of the hub's memory.
  const stripe = config.stripe.secretKey
    ? new (await import('./billing/stripe-gateway.js')).StripeGateway({
      secretKey: config.stripe.secretKey, webhookSecret: config.stripe.webhookSecret, apiUrl: config.stripe.apiUrl,
    })
    : undefined;
  const billing = new Billing(users, subscriptions, plans, stripe, config.issuer);
  const webhooks = stripe ? new StripeWebhooks(prisma, subscriptions, plans, stripe, log) : undefined;

  return { keys, clients, users, access, apiKeys, redis, limiterStore, throttle, plans, subscriptions, entitlements, stripe, billing, webhooks, bus, automations, mail, mailWorker, consents, sessions, mfa, analytics, recording };
}

type Services = Awaited<ReturnType<typeof createServices>>;

/** Our routes in front, oidc-provider's behind them, all in one Koa app (one context). */
function mountRoutes(app: Koa, config: Config, db: Database, services: Services, host: ProviderHost, masterKey: Buffer, assertions: AssertionSigner, log: Logger) {
  const { keys, clients, users, access, apiKeys, throttle, subscriptions, entitlements, stripe, billing, webhooks } = services;
  const { prisma } = db;
  const provider = () => host.current;
  const verify = ownTokenVerifier(config.issuer, () => host.verificationKeys);
  const csrf = new Csrf(masterKey);
  const checkLive = liveTokenCheck({ provider, verify, clients, users });
  // One set of bus operations for both faces: the admin API (unscoped) and the projects' own routes.
  const events = new EventOperations(services.bus);
  const ops = new AdminOperations({
    clients, users, access, apiKeys, keys, subscriptions: () => subscriptions, clientsFile: config.clientsFile, notify: (topic) => publishChange(prisma, topic),
    events, secondFactors: services.mfa.reset,
    // The console's "mail a reset link": the same mail as "forgot password" (emailFlows is made below).
    passwordResets: { forgotPassword: (email) => emailFlows.forgotPassword(email) },
  });

  app.proxy = config.trustProxy;
  // The client is the entry the last trusted proxy appended; entries left of it are its claims.
  app.maxIpsCount = config.trustProxyHops;
  app.silent = true; // errors are logged by requestLog/errorHandler, never printed with stacks
  // What every request goes through first: here, and ahead of this app for /api/events (eventsFirst).
  // This instance's metrics (GET /metrics): requests are counted once their status is final.
  const metrics = new HubMetrics();
  const front = [requestLog(log), countRequests(metrics), transportSecurity(config.issuer), errorHandler()];
  for (const middleware of front) app.use(middleware);
  // The login handler counts its outcomes here (ctx.state.analytics.login): a Map increment.
  app.use((ctx, next) => { ctx.state.analytics = services.recording.counters; return next(); });
  const addressedToIssuer = issuerHostOnly(config.issuer);
  const gateway = new Gateway(
    { issuer: config.issuer, trust: { trustProxy: config.trustProxy, hops: config.trustProxyHops }, ...config.gateway },
    {
      clients,
      callers: new Callers({
        verify, provider, clients, users, access, entitlements, apiKeys, plans: services.plans, cacheMs: config.gateway.verifyCacheSeconds * 1000,
      }),
      assertions,
      limiter: new GatewayLimiter(services.redis, config.redisPrefix),
      log,
      observe: services.recording.observeGateway,
    },
  );
  // The gateway is not in this chain: hub.handler answers /api/gateway/* before Koa does.
  app.use(healthRoutes(prisma).routes());
  collectHubState(metrics.registry, { gateway: gateway.metrics, pool: db.pool, queueDepth: () => services.bus.deliveries.depth(), deliveryOutcomes: () => services.bus.deliveryOutcomes() });
  app.use(metricsRoutes(metrics, config.metricsToken).routes());
  // Load balancers probe the health routes by IP; everything after them answers only at ISSUER.
  app.use(addressedToIssuer);
  // The provider with the guards of its endpoints: its token and document endpoints first (see
  // provider-first.ts), every other path of it after the hub's routers.
  const providerEndpoints = compose([
    postOnlyEndpoints(),
    authorizationGuard(services.limiterStore, config.authorizationsPerIpPerMinute),
    deviceCodeGuard(services.limiterStore, config.deviceCodeLimits),
    host.middleware(),
  ]);
  app.use(providerFirst(providerEndpoints));
  app.use(assetRoutes().routes());
  app.use(adminRoutes(ops, requireHubAdmin({ checkLive, access })).routes());
  app.use(analyticsRoutes(services.analytics, clients, analyticsAccess({ checkLive, access })).routes());
  app.use(userinfoRoutes({ checkLive, entitlements }).routes());
  app.use(accountSignInRoutes(config.issuer, config.issuer.startsWith('https:')).routes());
  app.use(billingRoutes({ billing, subscriptions, webhooks, stripe, users, clients, csrf, provider, checkLive, links: new PlanChangeLinks(csrf, config.issuer) }).routes());
  // The account center: every page and form of it signs in and checks CSRF through one AccountSession.
  const accountSession = new AccountSession(provider, csrf);
  app.use(profileRoutes({ session: accountSession, users, billing, subscriptions }).routes());
  app.use(keysRoutes({ session: accountSession, apiKeys }).routes());
  app.use(securityRoutes({ session: accountSession, users, sessions: services.sessions, throttle }).routes());
  app.use(appsRoutes({ session: accountSession, consents: services.consents, clients }).routes());
  app.use(mfaRoutes({ session: accountSession, users, totp: services.mfa.totp, recoveryCodes: services.mfa.recoveryCodes, limit: services.mfa.limit }).routes());
  app.use(dataRoutes({ session: accountSession, exports: new UserExport(prisma), deletion: new AccountDeletion(users, billing, throttle) }).routes());
  // Passkeys: registered on /account/passkeys, used at sign-in (interactions/passkey-routes.ts).
  const passkeys = new Passkeys(prisma, config.issuer, services.bus);
  app.use(passkeysRoutes({ session: accountSession, passkeys, users }).routes());
  // The user's dashboard: a card per project, each from its /summary through the gateway as the user.
  app.use(dashboardRoutes({ session: accountSession, cards: new DashboardCards({ clients, access, gateway }), billing, subscriptions }).routes());
  // The mailed links: verifying the address (also from sign-up and the verify-required page), reset, change of address.
  const emailFlows = new EmailFlows({ prisma, users, links: new AccountLinks(config.issuer), mail: services.mail, issuer: config.issuer });
  const emailLimits = new EmailLimits(services.limiterStore);
  app.use(emailRoutes({ flows: emailFlows, limits: emailLimits, session: accountSession, csrf, secureCookies: config.issuer.startsWith('https:') }).routes());
  // The admin console: the account pages' hub session, the hub admin role, every action through ops.
  const consoleSession = new ConsoleSession({ account: accountSession, csrf, access, users, clients });
  app.use(consoleRoutes({ issuer: config.issuer, session: consoleSession, ops, sessions: services.sessions, analytics: services.analytics, rules: services.automations.rules, pool: db.pool }).routes());
  const busRoutes = eventRoutes({ ops: events, verify, clients, keys: () => host.verificationKeys });
  app.use(busRoutes);
  // The sign-in's second step: passkey routes finish it through the same SecondFactorStep.
  const secondFactorStep = new SecondFactorStep(provider, users);
  app.use(passkeyRoutes({ provider, users, csrf, passkeys, secondFactor: secondFactorStep }).routes());
  const secondFactorPages = new SecondFactorPages({ provider, users, clients, csrf, step: secondFactorStep, ...services.mfa });
  app.use(secondFactorPages.routes().routes());
  app.use(interactionRoutes({ provider, users, clients, throttle, csrf, consents: services.consents, emailFlows, emailLimits, secondFactor: { step: secondFactorStep, pages: secondFactorPages } }).routes());
  app.use(async (ctx, next) => {
    if (ctx.path !== '/' || ctx.method !== 'GET') return next();
    await render(ctx, 'home', { title: 'Nexus', issuer: config.issuer });
  });
  app.use(providerEndpoints);
  const busFirst = (rest: RequestListener) => eventsFirst({ proxy: app.proxy, maxIpsCount: app.maxIpsCount, front: [...front, addressedToIssuer], routes: busRoutes }, rest);
  return { gateway, busFirst };
}

/** Keeps clients and keys fresh (notifications, and a periodic re-read) and sweeps expired rows. */
function startBackgroundWork(db: Database, services: Services, host: ProviderHost, log: Logger) {
  const onChange = (topic: string, origin?: string) => {
    if (topic === 'clients') services.clients.invalidate();
    if (topic === 'events' && origin !== services.bus.instance) services.bus.wake();
    if (topic === 'mail') services.mailWorker?.wake();
    if (topic === 'keys') host.reload().catch((error) => log.error({ err: error }, 'key reload failed'));
  };
  const listener: ChangeListener = listenForChanges(db.url, onChange, log);
  const reloadTimer = setInterval(() => onChange('keys'), RELOAD_INTERVAL_MS);
  reloadTimer.unref();
  const sweepTimer = setInterval(() => {
    sweepExpired(db.prisma).then(
      (count) => count && log.info({ count }, 'expired oidc records removed'),
      (error) => log.warn({ err: (error as Error).message }, 'sweep failed'),
    );
    services.sessions.sweep().then(
      (count) => count && log.info({ count }, 'details of ended sessions removed'),
      (error) => log.warn({ err: (error as Error).message }, 'session sweep failed'),
    );
  }, SWEEP_INTERVAL_MS);
  sweepTimer.unref();
  return async () => {
    clearInterval(reloadTimer);
    clearInterval(sweepTimer);
    await listener.close();
  };
}

export async function createHub(config: Config, log: Logger): Promise<Hub> {
  const { db, box, masterKey } = await openCore(config, log);
  const services = await createServices(config, db, box, log);
  const { prisma } = db;
  const { users, access, clients, apiKeys, entitlements, limiterStore } = services;

  const app = new Koa();
  const assertions = new AssertionSigner(config.issuer);
  const host = new ProviderHost(
    services.keys,
    (loaded) => createProvider({ config, prisma, users, access, clients, apiKeys, entitlements, limiterStore, consents: services.consents, sessions: services.sessions, log, recordActivity: services.recording.recordActivity }, loaded),
    log,
    (loaded) => {
      app.keys = loaded.cookieKeys;
      assertions.useKeys(loaded);
    },
  );
  await host.reload();
  const { gateway, busFirst } = mountRoutes(app, config, db, services, host, masterKey, assertions, log);
  const stopBackgroundWork = startBackgroundWork(db, services, host, log);
  const logouts = new LogoutDelivery({
    issuer: config.issuer, findClient: (id) => clients.findEnabled(id), signingKey: async () => (await services.keys.load()).jwks.keys[0],
    dispatcher: webhookDispatcher(config.events.allowPrivateUrls, config.events.timeoutMs), timeoutMs: config.events.timeoutMs, log,
  });
  services.bus.start({ databaseUrl: db.url, masterKey }, logouts.runner(automationRunner(services.automations, gateway, config.events.timeoutMs)));
  services.mailWorker?.start();
  services.recording.start();
  const releasePasswordPool = holdPasswordPool(config.passwordHashing);

  return {
    app, handler: gatewayFirst(gateway, busFirst(app.callback())), config, db, host, keys: services.keys, clients, users,
    subscriptions: services.subscriptions, plans: services.plans, gateway, bus: services.bus, upgrade: gatewayUpgrade(gateway),
    mail: services.mail, mailWorker: services.mailWorker, analytics: services.analytics, recording: services.recording,
    async close() {
      await stopBackgroundWork();
      await gateway.close();
      await services.bus.close(); // deliveries in flight finish and are recorded
      await services.mailWorker?.stop(); // so do the mails being sent
      await releasePasswordPool(); // the logins in progress finish their bcrypt first
      await services.recording.close(); // what was recorded since the last flush
      services.redis?.close();
      await db.close();
    },
  };
}
