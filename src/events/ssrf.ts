// SSRF guard for webhook URLs, which projects choose. An endpoint must be https and reach only
// public unicast addresses — checked when it is saved (the URL itself) and again at every
// connect (what its name resolves to then), so a name that later resolves to 127.0.0.1 or
// 169.254.169.254 (DNS rebinding) is refused at the socket. WEBHOOKS_ALLOW_PRIVATE_URLS=true
// lifts both checks for development and tests.
import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector } from 'undici';

export const MAX_URL_LENGTH = 2048;

/** Only addresses ipaddr.js classes as plain unicast: no loopback, private, link-local, CGNAT, NAT64, 6to4, multicast... */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() === 'unicast';
}

const bare = (hostname: string) => hostname.replace(/^\[|\]$/g, '');

/** What is wrong with a webhook URL, or undefined. */
export function webhookUrlProblem(value: unknown, allowPrivate: boolean): string | undefined {
  if (typeof value !== 'string' || value === '') return 'url is required';
  if (value.length > MAX_URL_LENGTH) return `url must be at most ${MAX_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'url is not an absolute URL';
  }
  if (url.username || url.password) return 'url must not contain credentials';
  if (url.hash) return 'url must not contain a fragment';
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) return 'url must use https';
  const host = bare(url.hostname);
  if (!allowPrivate && net.isIP(host) && !isPublicAddress(host)) return 'url must point to a public address';
  if (!allowPrivate && (host === 'localhost' || host.endsWith('.localhost'))) return 'url must point to a public address';
  return undefined;
}

export class BlockedAddressError extends Error {
  readonly code = 'EBLOCKEDADDRESS';

  constructor(host: string) {
    super(`${host} resolves to a non-public address`);
    this.name = 'BlockedAddressError';
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/** dns.lookup that fails when any address of the name is not public (all are checked, whichever is used). */
function publicOnlyLookup(hostname: string, options: dns.LookupOptions, callback: LookupCallback) {
  dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    if (addresses.length === 0 || addresses.some((a) => !isPublicAddress(a.address))) return callback(new BlockedAddressError(hostname), []);
    if (options.all) return callback(null, addresses);
    return callback(null, addresses[0].address, addresses[0].family);
  });
}

/**
 * The dispatcher webhook deliveries and automation calls use: no redirects are followed by
 * undici's request() anyway; here every new connection is checked before it is opened.
 */
export function webhookDispatcher(allowPrivate: boolean, connectTimeoutMs: number): Agent {
  const base = buildConnector({ timeout: connectTimeoutMs, ...(allowPrivate ? {} : { lookup: publicOnlyLookup }) } as buildConnector.BuildOptions);
  const connect: buildConnector.connector = (options, callback) => {
    // A literal address never goes through lookup: check it here.
    const host = bare(options.hostname);
    if (!allowPrivate && net.isIP(host) && !isPublicAddress(host)) {
      callback(new BlockedAddressError(host), null);
      return;
    }
    base(options, callback);
  };
  return new Agent({ connect, connections: 32, keepAliveTimeout: 10_000 });
}
