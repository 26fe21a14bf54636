// Who is calling: a hub access token for the target project's API, a token for the gateway
// audience (first-party projects; access, role and plan scopes are then worked out in the target
// project exactly as a token issued for it would carry them), or an API key. A verified caller is
// reused for `cacheMs` (≤ 5 s): within that delay a revoked grant, a disabled user or a revoked
// key stops working. A refusal (401, 403) is remembered as long, so that a script retrying a wrong
// key, or a flood of one forged token, costs no database lookup or RSA verification per request
// (and an access grant takes effect within the same bound as a revocation). The cache key is the credential's hash with the audience, key id and
// project (a token accepted for one project is never reused for another: Oathkeeper
// CVE-2021-32701 / CVE-2026-33496 were caches keyed on less).
import crypto from 'node:crypto';
import type Provider from 'oidc-provider';
import { decodeProtectedHeader, type JWTPayload } from 'jose';
import type { OwnTokenVerifier } from '../oidc/own-tokens.js';
import type { ClientRegistry, RegisteredClient } from '../clients/registry.js';
import type { Users } from '../accounts/users.js';
import type { ProjectAccess } from '../accounts/access.js';
import { ApiKeyError, type ApiKeys } from '../accounts/api-keys.js';
import type { PlanEntitlements } from '../billing/entitlements.js';
import type { Plans } from '../billing/plans.js';
import { apiScopesOf } from '../billing/scopes.js';
import { GATEWAY_AUDIENCE } from '../clients/definition.js';
import { accessDenied, GatewayError, invalidRequest, invalidToken } from './errors.js';
import { BoundedCache } from './bounded-cache.js';

export interface Caller {
  /** The user's id; for client credentials, the client id. */
  userId: string;
  email: string;
  clientId: string;
  role: string;
  plan: string;
  scopes: string[];
  /** `automation`: an automation rule of the event bus acting for the user (see forUser). */
  authMethod: 'jwt' | 'api_key' | 'automation';
  keyId: string;
  /** When the credential stops being valid (ms since epoch). */
  expiresAt: number;
  /** Requests per minute for (project, user), and for the API key; null: unlimited. */
  perMinute: number | null;
  keyPerMinute: number | null;
  /** Identifies credential + project (for the assertion cache); not a secret. */
  cacheKey: string;
}

export interface CallerDeps {
  verify: OwnTokenVerifier;
  provider: () => Provider;
  clients: ClientRegistry;
  users: Users;
  access: ProjectAccess;
  entitlements: PlanEntitlements;
  apiKeys: ApiKeys;
  plans: Plans;
  cacheMs: number;
}

/** An automation call's assertion lives at most this long (the call itself is bounded by the project's timeout). */
const AUTOMATION_ASSERTION_MS = 60_000;
const MAX_CACHED = 20_000;
const MAX_REFUSED = 10_000;
const MAX_CREDENTIAL_LENGTH = 8_192;

/** The credential of a request: `Authorization: Bearer …` (a JWT or an API key) or `X-Api-Key`. */
export function credentialOf(authorization: string | undefined, apiKey: string | string[] | undefined): { kind: 'jwt' | 'api_key'; value: string } {
  // Node joins repeated X-Api-Key headers with ", "; keys never contain a comma.
  if (Array.isArray(apiKey) || apiKey?.includes(',')) throw invalidRequest('send one X-Api-Key header');
  if (authorization !== undefined && apiKey !== undefined) throw invalidRequest('send either Authorization or X-Api-Key, not both');
  const value = apiKey ?? (authorization !== undefined ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization)?.[1] : undefined);
  if (!value) throw invalidToken(authorization === undefined && apiKey === undefined ? 'an access token or API key is required' : 'use Authorization: Bearer <token>');
  if (value.length > MAX_CREDENTIAL_LENGTH) throw invalidToken('invalid token provided');
  return { kind: value.startsWith('nxk_') || apiKey !== undefined ? 'api_key' : 'jwt', value };
}

// The one-shot crypto.hash (Node ≥ 20.12) allocates no Hash object per request.
const digestOf: (value: string) => string = typeof crypto.hash === 'function'
  ? (value) => crypto.hash('sha256', value, 'base64url')
  : (value) => crypto.createHash('sha256').update(value).digest('base64url');

const words = (value: unknown) => (typeof value === 'string' ? value.split(' ').filter(Boolean) : []);
const text = (value: unknown) => (typeof value === 'string' ? value : '');

export class Callers {
  private readonly verified = new BoundedCache<Caller>(MAX_CACHED);
  private readonly refused = new BoundedCache<GatewayError>(MAX_REFUSED);
  private readonly inflight = new Map<string, Promise<Caller>>();

  constructor(private readonly deps: CallerDeps) {}

  /** The caller, at once when it is cached (no promise on the hot path); throws a GatewayError. */
  resolve(project: RegisteredClient, authorization: string | undefined, apiKey: string | string[] | undefined): Caller | Promise<Caller> {
    const credential = credentialOf(authorization, apiKey);
    const digest = digestOf(credential.value);
    const key = `${digest}|${project.id}|${project.audience}|${credential.kind === 'jwt' ? kidOf(credential.value) : 'key'}`;
    const now = Date.now();
    const hit = this.verified.get(key, now);
    if (hit && hit.expiresAt > now) return hit;
    const refusal = this.refused.get(key, now);
    if (refusal) throw refusal;
    // Parallel first calls with one credential share one verification (and one refusal).
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = (credential.kind === 'jwt' ? this.fromToken(project, credential.value, key) : this.fromApiKey(project, credential.value, key))
        .then(
          (caller) => {
            if (this.deps.cacheMs > 0) this.verified.set(key, caller, Date.now() + this.deps.cacheMs);
            return caller;
          },
          (error: unknown) => {
            // Only the gateway's own verdicts: a database outage is not the credential's fault.
            if (error instanceof GatewayError && this.deps.cacheMs > 0) this.refused.set(key, error, Date.now() + this.deps.cacheMs);
            throw error;
          },
        )
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private async fromToken(project: RegisteredClient, token: string, cacheKey: string): Promise<Caller> {
    const { verify, provider, clients, users } = this.deps;
    let payload: JWTPayload;
    try {
      payload = await verify(token, { requiredClaims: ['sub', 'exp', 'client_id'] });
    } catch {
      throw invalidToken('invalid token provided');
    }
    const viaGateway = payload.aud === GATEWAY_AUDIENCE;
    if (!viaGateway && payload.aud !== project.audience) throw invalidToken(`the token is not for ${project.id} nor for the gateway`);
    const client = await clients.findEnabled(text(payload.client_id));
    if (!client) throw invalidToken('the client of this token is disabled or removed');
    const sub = text(payload.sub);
    const expiresAt = (payload.exp ?? 0) * 1000;
    const base = { clientId: client.id, authMethod: 'jwt' as const, keyId: '', expiresAt, keyPerMinute: null, cacheKey };

    if (typeof payload.gid !== 'string') {
      // No sign-in behind it: client credentials (the project acting for itself) or an API-key
      // exchange (its key is checked at the exchange; the token lives ACCESS_TOKEN_TTL).
      if (viaGateway) throw invalidToken('gateway tokens come from a user sign-in');
      if (sub === client.id) {
        return { ...base, userId: sub, email: '', role: '', plan: '', scopes: words(payload.scope), perMinute: null };
      }
      const user = await users.findById(sub);
      if (!user || user.disabledAt) throw invalidToken('the account no longer exists');
      return this.asUser(project, base, user.id, user.email, payload);
    }
    const grant = await provider().Grant.find(payload.gid);
    if (!grant || grant.clientId !== client.id || grant.accountId !== sub) throw invalidToken('the grant of this token is no longer valid');
    const user = await users.findById(sub);
    if (!user || user.disabledAt) throw invalidToken('the account no longer exists');
    if (!viaGateway) return this.asUser(project, base, user.id, user.email, payload);
    if (!client.firstParty) throw invalidToken('gateway tokens are issued to first-party projects only');
    return this.inProject(project, base, user.id, user.email, words(payload.scope));
  }

  /** A token issued for the project itself: its own claims say role, plan and scopes. */
  private asUser(project: RegisteredClient, base: Omit<Caller, 'userId' | 'email' | 'role' | 'plan' | 'scopes' | 'perMinute'>, userId: string, email: string, payload: JWTPayload): Caller {
    const plan = text(payload.plan);
    return { ...base, userId, email, role: text(payload.role), plan, scopes: words(payload.scope), perMinute: this.deps.plans.gatewayLimit(plan, project.id) };
  }

  /** Role and plan scopes in the target project, as a token issued for it would carry them. */
  private async inProject(
    project: RegisteredClient, base: Omit<Caller, 'userId' | 'email' | 'role' | 'plan' | 'scopes' | 'perMinute'>, userId: string, email: string, asked?: string[],
  ): Promise<Caller> {
    const { access, entitlements, plans } = this.deps;
    const [role, granted] = await Promise.all([access.roleFor(userId, project), entitlements.forUser(userId, project.id)]);
    if (!role) throw accessDenied(`the user has no access to ${project.id}`);
    const allowed = apiScopesOf(project, { planAllowed: granted.scopes, billing: false });
    const scopes = asked ? allowed.filter((scope) => asked.includes(scope)) : allowed;
    return { ...base, userId, email, role, plan: granted.plan, scopes, perMinute: plans.gatewayLimit(granted.plan, project.id) };
  }

  /**
   * The user as an automation rule of the event bus acts for them: access, role and plan scopes
   * in the project exactly as for an API key of theirs; never cached (rules run rarely, and a
   * revoked access must stop the next run).
   */
  async forUser(project: RegisteredClient, userId: string): Promise<Caller> {
    const user = await this.deps.users.findById(userId);
    if (!user || user.disabledAt) throw accessDenied('the account no longer exists or is disabled');
    const base = {
      clientId: '', authMethod: 'automation' as const, keyId: '', expiresAt: Date.now() + AUTOMATION_ASSERTION_MS, keyPerMinute: null,
      cacheKey: `automation|${user.id}|${project.id}`,
    };
    return this.inProject(project, base, user.id, user.email);
  }

  private async fromApiKey(project: RegisteredClient, presented: string, cacheKey: string): Promise<Caller> {
    let owner;
    try {
      owner = await this.deps.apiKeys.verify(presented);
    } catch (error) {
      if (error instanceof ApiKeyError) throw invalidToken('the API key is not valid');
      throw error;
    }
    const { info, user } = owner;
    const base = {
      clientId: '', authMethod: 'api_key' as const, keyId: info.id, expiresAt: info.expiresAt?.getTime() ?? Number.MAX_SAFE_INTEGER,
      keyPerMinute: info.rateLimit, cacheKey,
    };
    return this.inProject(project, base, user.id, user.email);
  }
}

// The kid of a JWT depends on its protected header alone (its first segment, of a token of 3 or
// 5 segments), which every token signed with one key shares: decoded once per header.
const kids = new Map<string, string>();
const MAX_KIDS = 1_000;
const MAX_CACHED_HEADER = 512;

function kidOf(token: string): string {
  const first = token.indexOf('.');
  let dots = 0;
  for (let at = first; at !== -1; at = token.indexOf('.', at + 1)) dots++;
  if (dots !== 2 && dots !== 4) return ''; // decodeProtectedHeader refuses it
  const header = token.slice(0, first);
  const known = kids.get(header);
  if (known !== undefined) return known;
  let kid: string;
  try {
    kid = decodeProtectedHeader(token).kid ?? '';
  } catch {
    kid = '';
  }
  if (header.length <= MAX_CACHED_HEADER) {
    if (kids.size >= MAX_KIDS) kids.clear();
    kids.set(header, kid);
  }
  return kid;
}
