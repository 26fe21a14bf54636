// Standard Webhooks 1.0 verification of the hub's deliveries: `webhook-id`, `webhook-timestamp`
// (Unix seconds) and `webhook-signature`, a space-separated list of `v1,<base64 HMAC-SHA256 of
// "id.timestamp.body">` (two during a secret rotation: the old and the new secret's). Written on
// node:crypto so that the package keeps jose and openid-client as its only dependencies; the
// tests check it against the `standardwebhooks` library.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookVerificationError } from './errors.js';

/** A fetch `Headers`, Node's `IncomingHttpHeaders`, or any plain object of header values. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /** How far `webhook-timestamp` may be from this clock, either way, in seconds. Default 300. */
  toleranceSeconds?: number;
}

const SECRET_PREFIX = 'whsec_';
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// Unix seconds as digits only: parseInt-style leniency ("17e8", "12abc") would let a timestamp
// that is not the signed one pass the window check.
const UNIX_SECONDS = /^[0-9]{1,12}$/;

function signingKey(secret: string): Buffer {
  // The prefix is optional, as in the Standard Webhooks libraries: base64 never contains "_".
  const encoded = typeof secret === 'string' && secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (typeof encoded !== 'string' || encoded.length === 0 || !STRICT_BASE64.test(encoded)) {
    throw new TypeError('@nexus/auth: the webhook secret must be the endpoint\'s whsec_<base64> secret');
  }
  return Buffer.from(encoded, 'base64');
}

/** Every value given for `name`, whatever the case of the key and however the framework holds them. */
function headerValues(headers: WebhookHeaders, name: string): string[] {
  if (typeof (headers as Headers).get === 'function') {
    const value = (headers as Headers).get(name);
    return value === null ? [] : [value];
  }
  return Object.entries(headers)
    .filter(([key]) => key.toLowerCase() === name)
    .flatMap(([, value]) => value)
    .filter((value): value is string => typeof value === 'string' && value !== '');
}

function singleHeader(headers: WebhookHeaders, name: string): string {
  const values = headerValues(headers, name);
  if (values.length === 0) throw new WebhookVerificationError('missing_header', `the ${name} header is missing`);
  // Two ids or timestamps: which one was signed is anybody's guess, so neither is trusted.
  if (values.length > 1) throw new WebhookVerificationError('repeated_header', `the ${name} header is repeated`);
  return values[0];
}

function bodyBytes(rawBody: string | Uint8Array): Uint8Array {
  if (typeof rawBody === 'string') return Buffer.from(rawBody, 'utf8');
  if (rawBody instanceof Uint8Array) return rawBody;
  // The usual mistake is a body already parsed by a JSON middleware: serialized again it is
  // not the signed text, so no signature could ever match.
  throw new TypeError('@nexus/auth: verifyWebhook needs the raw request body (a string or Buffer), not parsed JSON');
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Verifies a delivery of the hub and returns its event, parsed from the body:
 * `const event = verifyWebhook(req.headers, rawBody, process.env.NEXUS_WEBHOOK_SECRET)`.
 * Throws WebhookVerificationError (`code` says which check failed; answer 400) or, for a
 * secret that is not `whsec_<base64>` or a body that is not raw, TypeError.
 */
export function verifyWebhook<T = Record<string, unknown>>(
  headers: WebhookHeaders, rawBody: string | Uint8Array, secret: string, options: VerifyWebhookOptions = {},
): T {
  const key = signingKey(secret);
  const body = bodyBytes(rawBody);
  const id = singleHeader(headers, 'webhook-id');
  const timestamp = singleHeader(headers, 'webhook-timestamp');
  // Repeated signature headers are one list split over several lines.
  const signatures = headerValues(headers, 'webhook-signature').join(' ');
  if (!signatures) throw new WebhookVerificationError('missing_header', 'the webhook-signature header is missing');

  if (!UNIX_SECONDS.test(timestamp)) throw new WebhookVerificationError('invalid_timestamp', 'webhook-timestamp is not a Unix time in seconds');
  const tolerance = options.toleranceSeconds ?? 300;
  const age = Math.floor(Date.now() / 1000) - Number(timestamp);
  if (age > tolerance) throw new WebhookVerificationError('timestamp_too_old', `webhook-timestamp is ${age} s old, more than the ${tolerance} s allowed`);
  if (-age > tolerance) throw new WebhookVerificationError('timestamp_too_new', `webhook-timestamp is ${-age} s in the future, more than the ${tolerance} s allowed`);

  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
  const matches = signatures.split(' ').some((listed) => {
    // Frameworks join a repeated header with ", ": "v1,AAA=, v1,BBB=". Base64 never ends in ",".
    const entry = listed.endsWith(',') ? listed.slice(0, -1) : listed;
    const comma = entry.indexOf(',');
    // Only v1 is defined; other versions (v1a: asymmetric) are skipped, not failed.
    return comma > 0 && entry.slice(0, comma) === 'v1' && sameText(entry.slice(comma + 1), expected);
  });
  if (!matches) throw new WebhookVerificationError('no_matching_signature', 'no webhook-signature matches this id, timestamp, body and secret');

  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) as T;
  } catch {
    throw new WebhookVerificationError('invalid_payload', 'the signed body is not JSON');
  }
}
