// What commands work with: the same database and master key as the server (same DATABASE_URL /
// DATA_DIR defaults, so it works against the embedded default too), and the admin operations.
// The event bus here records and queues only: its worker is off, the running hubs deliver.
import { loadConfig, type Config } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { openCore } from '../core.js';
import { publishChange } from '../db/changes.js';
import { ClientRegistry } from '../clients/registry.js';
import { Users } from '../accounts/users.js';
import { holdPasswordPool } from '../accounts/password-pool.js';
import { ProjectAccess } from '../accounts/access.js';
import { UserImporter } from '../accounts/user-import.js';
import { ApiKeys } from '../accounts/api-keys.js';
import { KeyStore } from '../keys/store.js';
import { AdminOperations } from '../admin/operations.js';
import { Plans } from '../billing/plans.js';
import { Subscriptions } from '../billing/subscriptions.js';
import { EventBus } from '../events/bus.js';
import { withBackchannelLogout } from '../logout/delivery.js';
import { Automations, AutomationsError } from '../events/automations.js';
import type { RulesOf } from '../events/store.js';
import { EventOperations } from '../events/operations.js';
import { Mailer } from '../mail/mailer.js';
import { SecondFactorReset } from '../mfa/reset.js';
import { HubEvents } from '../accounts/identity-events.js';

export interface CliContext {
  config: Config;
  ops: AdminOperations;
  /** `nexus users import` (a CLI-only operation: it reads a file on the operator's machine). */
  userImport: UserImporter;
  /** Reads standard input to its end (for --password-stdin). */
  stdin(): Promise<string>;
  interactive: boolean;
  close(): Promise<void>;
}

async function automationRules(config: Config, clients: ClientRegistry, log: Logger): Promise<RulesOf> {
  try {
    const projectIds = (await clients.list()).map((client) => client.id);
    return Automations.fromFile(config.automationsFile, projectIds, config.automationsFileNamed).rulesOf;
  } catch (error) {
    if (!(error instanceof AutomationsError)) throw error;
    log.warn({ file: config.automationsFile, problems: error.problems }, 'automation rules not loaded: the events of this command trigger none');
    return () => [];
  }
}

export async function openContext(env: NodeJS.ProcessEnv, stdin: () => Promise<string>, interactive: boolean): Promise<CliContext> {
  const config = loadConfig(env);
  // Logs go to standard error so that standard output stays the command's result.
  const log = createLogger(env.LOG_LEVEL ?? 'warn', 2);
  const { db, box } = await openCore(config, log);
  let subscriptions: Subscriptions | undefined;
  const bus = new EventBus({
    prisma: db.prisma, pool: db.pool, box, log, projectExists: (id) => clients.get(id).then(() => true, () => false),
  }, { ...config.events, worker: false });
  const clients: ClientRegistry = new ClientRegistry(db.prisma, box, bus, { allowPrivateUrls: config.events.allowPrivateUrls });
  // The hub's automation rules and back-channel logout: a command's events (users create, access
  // grant, plans set...) trigger what the same change made through the hub would; the running
  // hubs' workers run them. A rules file that does not load (it may name the project this very
  // command is about to add) is reported, and the command goes on without rules.
  bus.useRules(withBackchannelLogout(await automationRules(config, clients, log)));
  const ops = new AdminOperations({
    clients,
    // Read on first use: only `nexus plans` needs plans.json.
    subscriptions: () => (subscriptions ??= new Subscriptions(db.prisma, Plans.fromFile(config.plansFile), bus)),
    users: new Users(db.prisma, bus),
    access: new ProjectAccess(db.prisma, bus),
    apiKeys: new ApiKeys(db.prisma, bus),
    keys: new KeyStore(db.prisma, box),
    notify: (topic) => publishChange(db.prisma, topic),
    clientsFile: config.clientsFile,
    events: new EventOperations(bus),
    // The mail is queued; a running hub's mail worker sends it.
    secondFactors: new SecondFactorReset(db.prisma, new Mailer(db.prisma, box), new HubEvents(db.prisma, bus)),
  });
  const releasePasswordPool = holdPasswordPool(config.passwordHashing);
  return { config, ops, userImport: new UserImporter(db.prisma, bus), stdin, interactive, close: () => releasePasswordPool().then(() => bus.close()).then(() => db.close()) };
}
