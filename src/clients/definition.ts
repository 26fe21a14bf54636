// What a registered project is, and the rules it must follow. Shared by clients.json seeding,
// the CLI and the admin API so that every path validates the same way.

export const GRANT_TYPES = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:device_code',
] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

/**
 * The audience of the hub's own admin API. The project registered with it (the Nexus Console in
 * clients.json) is where hub administrators hold the `admin` role.
 */
export const HUB_AUDIENCE = 'urn:nexus:hub';

/**
 * The audience of tokens for the API gateway (`/api/gateway/:project/*`): first-party projects
 * may ask for it (`resource=urn:nexus:gateway`) to get one token for every project's API. The
 * gateway checks access, role and plan scopes in the target project on each call.
 */
export const GATEWAY_AUDIENCE = 'urn:nexus:gateway';

/**
 * RFC 8693 token exchange, used to trade a user's API key for a JWT. Every confidential client
 * may use it (it must authenticate, and gets tokens only for its own API); it is not listed in
 * clients.json.
 */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

/**
 * Scopes of the event bus that every confidential project gets with client credentials (its
 * own source's events, its webhook endpoints); never in a user's token.
 */
export const BUS_SCOPES = ['events:write', 'events:read', 'webhooks:manage'] as const;
export type BusScope = (typeof BUS_SCOPES)[number];

export const ROLES = ['admin', 'user', 'read_only'] as const;
export type Role = (typeof ROLES)[number];

/**
 * `required` (the default): every authorization code request carries a PKCE S256 challenge.
 * `optional`: a confidential client may leave it out, for libraries without PKCE
 * (passport-openidconnect); weaker, as a stolen code is then protected by the secret alone.
 */
export const PKCE_MODES = ['required', 'optional'] as const;
export type PkceMode = (typeof PKCE_MODES)[number];

export interface ClientDefinition {
  id: string;
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: GrantType[];
  firstParty: boolean;
  public: boolean;
  /** The project's API identifier: the `aud` of access tokens issued for it. */
  audience: string;
  /** Scopes the project's API understands (besides the OpenID ones). */
  scopes: string[];
  /** `open`: every signed-up user may sign in; `granted`: only users with project access. */
  access: 'open' | 'granted';
  /** Role given to users of an `open` project who have no explicit grant. */
  defaultRole: Role;
  pkce: PkceMode;
  /** The project's API base behind the gateway, e.g. http://localhost:3001/api; unset: not behind it. */
  upstream?: string;
  /** Per-project gateway settings (defaults from GATEWAY_* variables). */
  gateway?: GatewaySettings;
  /** Event types of this project that other projects may receive (about users they admit). */
  publishes: string[];
  /** Users must have verified their email address before the project gets a code for them. */
  requireVerifiedEmail: boolean;
  /** Users must sign in with a second factor (TOTP or a passkey) before the project gets a code. */
  requireMfa: boolean;
  /** Where the hub POSTs logout tokens (OpenID Connect Back-Channel Logout); unset: not told. */
  backchannelLogoutUri?: string;
  /** Every logout token carries the session's `sid`. */
  backchannelLogoutSessionRequired: boolean;
}

export interface GatewaySettings {
  /** Seconds the upstream may take to answer (its headers). */
  timeoutSeconds?: number;
  /** Largest request body, in bytes. */
  maxBodyBytes?: number;
  /** Browser origins allowed by CORS; default: the origins of the redirect URIs. */
  corsOrigins?: string[];
}

export class ClientValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'ClientValidationError';
  }
}

const ID_PATTERN = /^[a-z0-9][a-z0-9-]{1,62}$/;
// As src/events/event.ts (which the bus validates with); kept here so clients stay independent of it.
const EVENT_TYPE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,3}$/;
const SCOPE_PATTERN = /^[\x21\x23-\x5B\x5D-\x7E]+$/; // RFC 6749 scope-token
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The URL a configured value names, or what is wrong with it. */
function absoluteUrl(value: unknown): { url: URL; value: string } | { problem: string } {
  if (typeof value !== 'string') return { problem: 'must be a string' };
  try {
    return { url: new URL(value), value };
  } catch {
    return { problem: `"${value}" is not an absolute URL` };
  }
}

/** Absolute, no fragment, https unless the host is loopback (RFC 8252 §7.3). */
export function redirectUriProblem(input: unknown): string | undefined {
  const parsed = absoluteUrl(input);
  if ('problem' in parsed) return parsed.problem;
  const { url, value } = parsed;
  if (url.hash || value.includes('#')) return `"${value}" must not contain a fragment`;
  if (url.username || url.password) return `"${value}" must not contain credentials`;
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  if (url.protocol === 'http:') return `"${value}" must use https (http is only allowed for localhost)`;
  return `"${value}" must use https`;
}

/**
 * A back-channel logout URI: as a redirect URI (https, http only for loopback), at most 2048
 * characters. Whether its address may be reached is the registry's check (clients/registry.ts).
 */
export function backchannelLogoutUriProblem(input: unknown): string | undefined {
  if (typeof input === 'string' && input.length > 2048) return 'must be at most 2048 characters';
  return redirectUriProblem(input);
}

/** An upstream API base: absolute http(s), no credentials, query or fragment. */
export function upstreamProblem(input: unknown): string | undefined {
  const parsed = absoluteUrl(input);
  if ('problem' in parsed) return parsed.problem;
  const { url, value } = parsed;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `"${value}" must use http or https`;
  if (url.username || url.password) return `"${value}" must not contain credentials`;
  if (url.search || url.hash || value.includes('?') || value.includes('#')) return `"${value}" must not have a query or fragment`;
  return undefined;
}

function gatewaySettings(input: unknown, where: string, problems: string[]): GatewaySettings | undefined {
  if (input === undefined || input === null) return undefined;
  if (typeof input !== 'object' || Array.isArray(input)) {
    problems.push(`${where}gateway must be an object`);
    return undefined;
  }
  const raw = input as Record<string, unknown>;
  const settings: GatewaySettings = {};
  const whole = (name: 'timeoutSeconds' | 'maxBodyBytes', max: number) => {
    const value = raw[name];
    if (value === undefined) return;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) problems.push(`${where}gateway.${name} must be a whole number from 1 to ${max}`);
    else settings[name] = value;
  };
  whole('timeoutSeconds', 3600);
  whole('maxBodyBytes', 1024 ** 3);
  if (raw.corsOrigins !== undefined) {
    const origins = stringArray(raw.corsOrigins, `${where}gateway.corsOrigins`, problems);
    for (const origin of origins) {
      let ok = false;
      try { ok = new URL(origin).origin === origin; } catch { /* refused below */ }
      if (!ok) problems.push(`${where}gateway.corsOrigins: "${origin}" is not an origin (scheme://host[:port])`);
    }
    settings.corsOrigins = origins;
  }
  return settings;
}

function stringArray(input: unknown, field: string, problems: string[]): string[] {
  if (input === undefined) return [];
  if (!Array.isArray(input) || input.some((v) => typeof v !== 'string')) {
    problems.push(`${field} must be a list of strings`);
    return [];
  }
  return [...new Set(input as string[])];
}

/** Validates untrusted input (a clients.json entry, CLI flags, an API body). */
export function parseClientDefinition(input: unknown): ClientDefinition {
  const problems: string[] = [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ClientValidationError(['a client must be an object']);
  }
  const raw = input as Record<string, unknown>;
  const id = typeof raw.id === 'string' ? raw.id : '';
  const where = id ? `client "${id}": ` : '';
  if (!ID_PATTERN.test(id)) problems.push(`${where}id must be 2-63 lowercase letters, digits or dashes`);
  const name = typeof raw.name === 'string' ? raw.name.trim() : '';
  if (!name) problems.push(`${where}name is required`);

  const isPublic = raw.public === true;
  const grantTypes = stringArray(raw.grantTypes ?? ['authorization_code', 'refresh_token'], `${where}grantTypes`, problems);
  for (const grant of grantTypes) {
    if (!(GRANT_TYPES as readonly string[]).includes(grant)) {
      problems.push(`${where}grant type "${grant}" is not supported (use ${GRANT_TYPES.join(', ')})`);
    }
  }
  if (isPublic && grantTypes.includes('client_credentials')) {
    problems.push(`${where}a public client cannot use client_credentials`);
  }

  const redirectUris = stringArray(raw.redirectUris, `${where}redirectUris`, problems);
  const postLogoutRedirectUris = stringArray(raw.postLogoutRedirectUris, `${where}postLogoutRedirectUris`, problems);
  if (grantTypes.includes('authorization_code') && redirectUris.length === 0) {
    problems.push(`${where}authorization_code needs at least one redirect URI`);
  }
  for (const uri of [...redirectUris, ...postLogoutRedirectUris]) {
    const problem = redirectUriProblem(uri);
    if (problem) problems.push(`${where}redirect URI ${problem}`);
  }

  const audience = typeof raw.audience === 'string' && raw.audience ? raw.audience : `urn:nexus:${id}`;
  try {
    new URL(audience);
  } catch {
    problems.push(`${where}audience must be an absolute URI such as urn:nexus:${id || 'project'}`);
  }

  const scopes = stringArray(raw.scopes, `${where}scopes`, problems);
  for (const scope of scopes) if (!SCOPE_PATTERN.test(scope)) problems.push(`${where}scope "${scope}" has invalid characters`);

  const access = raw.access ?? 'open';
  if (access !== 'open' && access !== 'granted') problems.push(`${where}access must be "open" or "granted"`);
  const defaultRole = raw.defaultRole ?? 'user';
  if (!(ROLES as readonly unknown[]).includes(defaultRole)) problems.push(`${where}defaultRole must be one of ${ROLES.join(', ')}`);
  const pkce = raw.pkce ?? 'required';
  if (!(PKCE_MODES as readonly unknown[]).includes(pkce)) problems.push(`${where}pkce must be "required" or "optional"`);
  // A public client has no secret: PKCE is all that binds its code to it.
  else if (isPublic && pkce === 'optional') problems.push(`${where}a public client must use PKCE: pkce "optional" is only for confidential clients`);

  // null (from `--upstream ''` or the admin API) takes a project out of the gateway.
  const upstream = raw.upstream === null || raw.upstream === '' || raw.upstream === undefined ? undefined : raw.upstream;
  if (upstream !== undefined) {
    const problem = upstreamProblem(upstream);
    if (problem) problems.push(`${where}upstream ${problem}`);
  }
  const gateway = gatewaySettings(raw.gateway, where, problems);
  const publishes = stringArray(raw.publishes, `${where}publishes`, problems);
  for (const type of publishes) if (!EVENT_TYPE.test(type) || type.length > 100) problems.push(`${where}publishes: "${type.slice(0, 60)}" is not an event type such as deal.won`);
  const requireVerifiedEmail = raw.requireVerifiedEmail ?? false;
  if (typeof requireVerifiedEmail !== 'boolean') problems.push(`${where}requireVerifiedEmail must be true or false`);
  const requireMfa = raw.requireMfa ?? false;
  if (typeof requireMfa !== 'boolean') problems.push(`${where}requireMfa must be true or false`);
  // null (from `--backchannel-logout-uri ''` or the admin API) stops the logout tokens.
  const backchannelLogoutUri = raw.backchannelLogoutUri === null || raw.backchannelLogoutUri === '' ? undefined : raw.backchannelLogoutUri;
  if (backchannelLogoutUri !== undefined) {
    const problem = backchannelLogoutUriProblem(backchannelLogoutUri);
    if (problem) problems.push(`${where}backchannelLogoutUri ${problem}`);
  }
  const backchannelLogoutSessionRequired = raw.backchannelLogoutSessionRequired ?? false;
  if (typeof backchannelLogoutSessionRequired !== 'boolean') problems.push(`${where}backchannelLogoutSessionRequired must be true or false`);

  if (problems.length) throw new ClientValidationError(problems);
  return {
    id,
    name,
    redirectUris,
    postLogoutRedirectUris,
    grantTypes: grantTypes as GrantType[],
    firstParty: raw.firstParty === true,
    public: isPublic,
    audience,
    scopes,
    access: access as ClientDefinition['access'],
    defaultRole: defaultRole as Role,
    pkce: pkce as PkceMode,
    ...(upstream !== undefined ? { upstream: (upstream as string).replace(/\/+$/, '') } : {}),
    ...(gateway ? { gateway } : {}),
    publishes,
    requireVerifiedEmail: requireVerifiedEmail === true,
    requireMfa: requireMfa === true,
    ...(backchannelLogoutUri !== undefined ? { backchannelLogoutUri: backchannelLogoutUri as string } : {}),
    backchannelLogoutSessionRequired: backchannelLogoutSessionRequired === true,
  };
}
