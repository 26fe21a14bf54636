// A software WebAuthn authenticator for the HTTP tests: ES256 keys, `none` attestation, a
// signature counter, and the JSON shape /assets/passkeys.js posts. It signs whatever it is told
// to (another origin, an old challenge, a lower counter), which is what the refusal tests need.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

/** Just enough CBOR (RFC 8949) for an attestation object and a COSE key. */
function cbor(value: unknown): Buffer {
  const head = (major: number, length: number) => {
    if (length < 24) return Buffer.from([(major << 5) | length]);
    if (length < 256) return Buffer.from([(major << 5) | 24, length]);
    return Buffer.from([(major << 5) | 25, length >> 8, length & 0xff]);
  };
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === 'string') return Buffer.concat([head(3, Buffer.byteLength(value)), Buffer.from(value)]);
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), Buffer.from(value)]);
  if (value instanceof Map) return Buffer.concat([head(5, value.size), ...[...value].flatMap(([k, v]) => [cbor(k), cbor(v)])]);
  throw new Error(`cbor: cannot encode ${typeof value}`);
}

export interface Credential {
  id: string;
  privateKey: KeyObject;
  counter: number;
  userHandle?: string;
}

interface Options {
  origin: string;
  rpId: string;
  /** Flags: user verified (default), backup eligible/state (a synced passkey). */
  userVerified?: boolean;
  synced?: boolean;
}

function flags({ userVerified = true, synced = false }: Options, attested: boolean) {
  return 0x01 | (userVerified ? 0x04 : 0) | (synced ? 0x18 : 0) | (attested ? 0x40 : 0);
}

const counterBytes = (counter: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(counter); return b; };

/** navigator.credentials.create(): a new credential and the JSON to post. */
export function createCredential(options: { challenge: string; user: { id: string } }, opts: Options) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const cose = cbor(new Map<number, unknown>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]));
  const rawId = randomBytes(16);
  const idLength = Buffer.from([0, rawId.length]);
  const authData = Buffer.concat([sha256(opts.rpId), Buffer.from([flags(opts, true)]), counterBytes(0), Buffer.alloc(16), idLength, rawId, cose]);
  const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin: opts.origin, crossOrigin: false }));
  const attestationObject = cbor(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
  const credential: Credential = { id: b64(rawId), privateKey, counter: 0, userHandle: options.user.id };
  const json = {
    id: credential.id, rawId: credential.id, type: 'public-key', clientExtensionResults: {},
    response: { clientDataJSON: b64(clientDataJSON), attestationObject: b64(attestationObject), transports: ['internal'] },
  };
  return { credential, json };
}

/** navigator.credentials.get(): an assertion over `challenge`; the counter moves on unless `counter` says otherwise. */
export function assert(credential: Credential, challenge: string, opts: Options & { counter?: number }) {
  const counter = opts.counter ?? (credential.counter += 1);
  const authData = Buffer.concat([sha256(opts.rpId), Buffer.from([flags(opts, false)]), counterBytes(counter)]);
  const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin: opts.origin, crossOrigin: false }));
  const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), credential.privateKey);
  return {
    id: credential.id, rawId: credential.id, type: 'public-key', clientExtensionResults: {},
    response: { clientDataJSON: b64(clientDataJSON), authenticatorData: b64(authData), signature: b64(signature), userHandle: credential.userHandle },
  };
}
