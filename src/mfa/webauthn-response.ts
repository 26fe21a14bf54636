// The shape of a PublicKeyCredential as the browser script posts it (JSON, base64url fields),
// checked before anything else reads it: hostile input is refused here as one PasskeyError, so
// the verifier only ever sees strings where it expects strings, of sane sizes.
import { PasskeyError } from './webauthn-errors.js';

const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Credential ids are at most 1,023 bytes (WebAuthn §5.8.4); attestation objects stay far below 16 KB with `none`. */
const MAX_ID = 1400;
const MAX_FIELD = 16_000;

export interface ParsedResponse {
  /** The object to hand to @simplewebauthn/server, unchanged. */
  response: unknown;
  credentialId: string;
  /** The challenge the client says it signed (from clientDataJSON), to spend before verifying. */
  challenge: string;
}

const invalid = (why: string) => new PasskeyError('invalid_response', `The passkey answer is not usable: ${why}.`);

function base64url(value: unknown, name: string, max = MAX_FIELD): string {
  if (typeof value !== 'string' || !value || value.length > max || !BASE64URL.test(value)) throw invalid(`${name} must be base64url text`);
  return value;
}

export function parsePasskeyResponse(input: unknown, type: 'webauthn.create' | 'webauthn.get'): ParsedResponse {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('not an object');
  const credential = input as Record<string, unknown>;
  const credentialId = base64url(credential.id, 'id', MAX_ID);
  if (credential.rawId !== credentialId) throw invalid('rawId must equal id');
  if (credential.type !== 'public-key') throw invalid('type must be public-key');
  const inner = credential.response;
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) throw invalid('response must be an object');
  const fields = inner as Record<string, unknown>;
  const needed = type === 'webauthn.create' ? ['clientDataJSON', 'attestationObject'] : ['clientDataJSON', 'authenticatorData', 'signature'];
  for (const name of needed) base64url(fields[name], name);
  if (fields.userHandle !== undefined && fields.userHandle !== null) base64url(fields.userHandle, 'userHandle', 200);
  if (fields.transports !== undefined && !(Array.isArray(fields.transports) && fields.transports.length <= 8 && fields.transports.every((t) => typeof t === 'string' && t.length <= 20))) {
    throw invalid('transports must be a short list of names');
  }
  let clientData: unknown;
  try {
    clientData = JSON.parse(Buffer.from(fields.clientDataJSON as string, 'base64url').toString('utf8'));
  } catch {
    throw invalid('clientDataJSON is not JSON');
  }
  const { challenge, type: clientType } = (clientData ?? {}) as Record<string, unknown>;
  if (clientType !== type) throw invalid(`clientDataJSON.type must be ${type}`);
  return { response: credential, credentialId, challenge: base64url(challenge, 'the challenge', 200) };
}
