// Every administrative operation, once. The `nexus` CLI and the /api/admin routes are thin
// layers over this: they parse input and format output, nothing more. Changes to clients and
// keys are announced so that running hubs reload them at once.
import { ClientError, type ClientRegistry } from '../clients/registry.js';
import { readClientsFile, syncClients } from '../clients/sync.js';
import { HUB_AUDIENCE } from '../clients/definition.js';
import type { Users, User } from '../accounts/users.js';
import type { ProjectAccess } from '../accounts/access.js';
import { ApiKeyError, parseDuration, type ApiKeys } from '../accounts/api-keys.js';
import type { KeyStore } from '../keys/store.js';
import type { ChangeTopic } from '../db/changes.js';
import type { Subscriptions } from '../billing/subscriptions.js';
import type { EventOperations } from '../events/operations.js';
import type { EventFilter } from '../events/store.js';
import type { Actor } from '../events/event.js';
import type { SecondFactorReset } from '../mfa/reset.js';
import type { EmailFlows } from '../account-center/email-flows.js';

export class AdminError extends Error {
  constructor(readonly code: 'no_hub_project' | 'no_grant' | 'user_disabled' | 'no_mail', message: string) {
    super(message);
    this.name = 'AdminError';
  }
}

export interface AdminDeps {
  clients: ClientRegistry;
  users: Users;
  access: ProjectAccess;
  apiKeys: ApiKeys;
  keys: KeyStore;
  notify: (topic: ChangeTopic) => Promise<void>;
  clientsFile: string;
  /** Lazy: only the plan operations need plans.json. */
  subscriptions: () => Subscriptions;
  /** The event bus's operations, unscoped: administrators reach every endpoint and delivery. */
  events: EventOperations;
  /** `nexus users reset-mfa`: removes a user's second factors and tells them by mail. */
  secondFactors: SecondFactorReset;
  /** The hub's own "forgot password" mail (src/account-center/email-flows.ts); a running hub has it, the CLI not. */
  passwordResets?: Pick<EmailFlows, 'forgotPassword'>;
}

/** `24h`, `30m`, `7d`…, or `0` (the default): how long a replaced client secret keeps working. */
export function parseGrace(text: string | undefined): number {
  if (text === undefined || /^\s*0+[smhd]?\s*$/.test(text)) return 0;
  try {
    return parseDuration(text);
  } catch (error) {
    if (error instanceof ApiKeyError) throw new ClientError('invalid_grace', `grace: ${error.message}`);
    throw error;
  }
}

/** Who acts through the `nexus` CLI (it runs with the database's credentials, not a user's). */
export const CLI_ACTOR: Actor = { type: 'admin', id: 'cli' };

/** A user as administrators see it: never the password hash. */
export function publicUser(user: User) {
  const { passwordHash, ...rest } = user;
  return { ...rest, hasPassword: Boolean(passwordHash) };
}

const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class AdminOperations {
  /** Endpoints and deliveries: used as they are (pass no scope, or `{}`), not wrapped here. */
  readonly events: EventOperations;

  constructor(private readonly deps: AdminDeps) {
    this.events = deps.events;
  }

  // --- clients ---------------------------------------------------------------------------

  listClients() {
    return this.deps.clients.list();
  }

  getClient(id: string) {
    return this.deps.clients.get(id);
  }

  async addClient(input: unknown, actor: Actor) {
    const result = await this.deps.clients.add(input, actor);
    await this.deps.notify('clients');
    return result;
  }

  async updateClient(id: string, changes: object, actor: Actor) {
    const result = await this.deps.clients.update(id, changes, actor);
    await this.deps.notify('clients');
    return result;
  }

  /** `grace`: how long the replaced secret keeps working (see parseGrace); none by default. */
  async rotateClientSecret(id: string, actor: Actor, grace?: string) {
    const { secret, rotationGraceUntil } = await this.deps.clients.rotateSecret(id, parseGrace(grace), actor);
    await this.deps.notify('clients');
    return { id, secret, rotationGraceUntil };
  }

  async setClientEnabled(id: string, enabled: boolean, actor: Actor) {
    const client = await this.deps.clients.setEnabled(id, enabled, actor);
    await this.deps.notify('clients');
    return client;
  }

  async removeClient(id: string, actor: Actor) {
    await this.deps.clients.remove(id, actor);
    await this.deps.notify('clients');
  }

  async syncClients(actor: Actor, file = this.deps.clientsFile) {
    const result = await syncClients(this.deps.clients, await readClientsFile(file), actor);
    await this.deps.notify('clients');
    return { file, ...result };
  }

  // --- users -----------------------------------------------------------------------------

  listUsers(search?: string) {
    return this.deps.users.list(search);
  }

  async getUser(email: string) {
    const user = await this.deps.users.get(email);
    const [access, apiKeys] = await Promise.all([this.deps.access.list({ userId: user.id }), this.deps.apiKeys.list(user.id)]);
    return { user, access, apiKeys };
  }

  /** Creates a user; `admin` also gives them the admin role in the hub project. */
  async createUser(input: { email: string; password?: string; name?: string; admin?: boolean }, actor: Actor) {
    // Resolved before creating anything, so a failure leaves no half-made admin behind.
    const hubProject = input.admin ? await this.hubProjectId() : undefined;
    const user = await this.deps.users.create({ email: input.email, password: input.password, fullName: input.name, emailVerified: true }, actor);
    if (hubProject) await this.deps.access.grant(user.id, hubProject, 'admin', 'admin', actor);
    return user;
  }

  disableUser(email: string, actor: Actor) {
    return this.deps.users.disable(email, actor);
  }

  enableUser(email: string, actor: Actor) {
    return this.deps.users.enable(email, actor);
  }

  setPassword(email: string, password: string, actor: Actor) {
    return this.deps.users.setPassword(email, password, actor);
  }

  /** Removes the user's TOTP, recovery codes and passkeys (a lost phone); the user is mailed. */
  async resetMfa(email: string, actor: Actor) {
    const user = await this.deps.users.get(email);
    return { user, removed: await this.deps.secondFactors.reset(user, actor) };
  }

  /** Mails the user the same reset link as "forgot password" does (not to a disabled account). */
  async mailPasswordReset(email: string) {
    const user = await this.deps.users.get(email);
    if (user.disabledAt) throw new AdminError('user_disabled', `${user.email} is disabled: enable the account first`);
    if (!this.deps.passwordResets) throw new AdminError('no_mail', 'reset links are mailed by a running hub (the console)');
    await this.deps.passwordResets.forgotPassword(user.email);
    return { email: user.email, mailed: true };
  }

  deleteUser(email: string, actor: Actor) {
    return this.deps.users.delete(email, actor);
  }

  private async hubProjectId() {
    const hub = (await this.deps.clients.list()).find((client) => client.audience === HUB_AUDIENCE);
    if (!hub) throw new AdminError('no_hub_project', `no registered client has the hub audience ${HUB_AUDIENCE}; run \`nexus clients sync\``);
    return hub.id;
  }

  // --- project access --------------------------------------------------------------------

  async grantAccess(email: string, projectId: string, role: string, actor: Actor) {
    const user = await this.deps.users.get(email);
    const project = await this.deps.clients.get(projectId);
    return this.deps.access.grant(user.id, project.id, role, 'admin', actor);
  }

  async revokeAccess(email: string, project: string, actor: Actor) {
    const user = await this.deps.users.get(email);
    if (!(await this.deps.access.revoke(user.id, project, actor))) throw new AdminError('no_grant', `${user.email} has no grant for ${project}`);
    return { email: user.email, project, revoked: true };
  }

  async listAccess(filter: { email?: string; project?: string }) {
    const userId = filter.email ? (await this.deps.users.get(filter.email)).id : undefined;
    return this.deps.access.list({ userId, project: filter.project });
  }

  // --- signing keys ----------------------------------------------------------------------

  listKeys() {
    return this.deps.keys.list();
  }

  async rotateKeys() {
    const key = await this.deps.keys.rotate();
    await this.deps.notify('keys');
    return key;
  }

  async retireKey(kid: string) {
    const key = await this.deps.keys.retire(kid);
    await this.deps.notify('keys');
    return key;
  }

  // --- plans ---------------------------------------------------------------------------

  async getPlan(email: string) {
    const user = await this.deps.users.get(email);
    return { email: user.email, ...(await this.deps.subscriptions().stateOf(user.id)) };
  }

  /** Sets a user's plan directly (no Stripe), e.g. for enterprise deals or a hub without billing. */
  async setPlan(email: string, plan: string, actor: Actor, source = 'admin') {
    const user = await this.deps.users.get(email);
    await this.deps.subscriptions().apply(user.id, { plan: plan as never, status: 'active', source }, actor);
    return this.getPlan(user.email);
  }

  // --- events --------------------------------------------------------------------------

  /**
   * The audit log. Administrators name the subject by email (a user id also works, for the
   * events of a user who has since been deleted).
   */
  async listEvents(filter: Omit<EventFilter, 'subject'> & { subject?: string }) {
    const subject = filter.subject === undefined || USER_ID.test(filter.subject) ? filter.subject : (await this.deps.users.get(filter.subject)).id;
    return this.deps.events.listEvents({ ...filter, subject });
  }

  // --- API keys --------------------------------------------------------------------------

  async createApiKey(input: { email: string; name: string; env: string; rateLimit?: number; expiresIn?: string }, actor: Actor) {
    const user = await this.deps.users.get(input.email);
    return this.deps.apiKeys.create({ userId: user.id, name: input.name, env: input.env, rateLimit: input.rateLimit, expiresIn: input.expiresIn }, actor);
  }

  async listApiKeys(email?: string) {
    return this.deps.apiKeys.list(email ? (await this.deps.users.get(email)).id : undefined);
  }

  revokeApiKey(id: string, actor: Actor) {
    return this.deps.apiKeys.revoke(id, actor);
  }
}
