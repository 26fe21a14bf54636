// The SDK's offline verifier against tokens we sign ourselves and a JWKS served from a local
// server (the stand-in hub): every way a token can be wrong, and how the key cache talks to
// the hub (one fetch, one refetch per cooldown for unknown kids, survives the hub going down,
// drops withdrawn keys).
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { KeyObject, randomBytes } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { createVerifier, JwksCache, NexusAuthError, type Verifier } from '@nexus/auth';
import { expectAuthError, listen, makeKey, rawJwt, signToken, sleep, startFakeHub, type FakeHub, type SigningKey } from './helpers.js';

const AUDIENCE = 'urn:nexus:sales';
let key: SigningKey;
// Generated up front: RSA key generation can take longer than the short cooldowns used below.
let spare: { forger: SigningKey; rotated: SigningKey; successor: SigningKey; outage: SigningKey };
let hub: FakeHub;
let verifier: Verifier;
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  key = await makeKey('main');
  const [forger, rotated, successor, outage] = await Promise.all(['forged-0', 'rotated', 'successor', 'after-outage'].map((kid) => makeKey(kid)));
  spare = { forger, rotated, successor, outage };
  hub = await startFakeHub([key]);
  verifier = createVerifier({ issuer: hub.issuer, audience: AUDIENCE });
});
afterAll(() => hub?.close());

const token = (options: Partial<Parameters<typeof signToken>[1]> = {}, signer = key) =>
  signToken(signer, { issuer: hub.issuer, audience: AUDIENCE, ...options });

describe('valid tokens', () => {
  it('become a Principal with every mapped claim', async () => {
    const principal = await verifier.verify(await token({
      claims: {
        sub: 'u-42', email: 'ada@example.com', scope: 'leads:read leads:write', role: 'admin',
        plan: 'business', entitlements: { automation: true, leadsPerMonth: 500, seats: null },
      },
    }));
    expect(principal).toMatchObject({
      sub: 'u-42', email: 'ada@example.com', scopes: ['leads:read', 'leads:write'], role: 'admin', plan: 'business',
      entitlements: { automation: true, leadsPerMonth: 500, seats: null }, clientId: 'sales', isUser: true,
    });
    expect(principal.claims.aud).toBe(AUDIENCE);
  });

  it('map a client acting for itself (sub = client_id) without role or email', async () => {
    const principal = await verifier.verify(await token({ claims: { sub: 'sales', client_id: 'sales', role: 'superuser' } }));
    expect(principal).toMatchObject({ sub: 'sales', clientId: 'sales', isUser: false, role: undefined, email: undefined, plan: undefined, entitlements: {} });
  });

  it('accept the issuer given with a trailing slash, an audience array, and typ application/at+jwt', async () => {
    const slashed = createVerifier({ issuer: `${hub.issuer}/`, audience: AUDIENCE });
    await expect(slashed.verify(await token())).resolves.toMatchObject({ sub: 'user-1' });
    await expect(verifier.verify(await token({ audience: ['urn:nexus:other', AUDIENCE] }))).resolves.toBeTruthy();
    await expect(verifier.verify(await token({ header: { typ: 'application/at+jwt' } }))).resolves.toBeTruthy();
  });
});

describe('invalid tokens are refused with invalid_token (401) and a clear message', () => {
  it('wrong audience', async () => {
    await expectAuthError(verifier.verify(await token({ audience: 'urn:nexus:dream-people' })), 'invalid_token', 401, /aud claim/);
  });

  it('wrong issuer', async () => {
    await expectAuthError(verifier.verify(await token({ issuer: 'http://evil.example' })), 'invalid_token', 401, /iss claim/);
    // localhost vs 127.0.0.1: a different issuer string is a different issuer.
    await expectAuthError(verifier.verify(await token({ issuer: hub.issuer.replace('127.0.0.1', 'localhost') })), 'invalid_token', 401, /iss claim/);
  });

  it('expired beyond the clock tolerance (5 s), but accepted within it', async () => {
    await expectAuthError(verifier.verify(await token({ expiresIn: -10, iat: now() - 400 })), 'invalid_token', 401, /the access token has expired/);
    await expect(verifier.verify(await token({ expiresIn: -2, iat: now() - 400 }))).resolves.toBeTruthy();
    const lenient = createVerifier({ issuer: hub.issuer, audience: AUDIENCE, clockToleranceSeconds: 30 });
    await expect(lenient.verify(await token({ expiresIn: -10, iat: now() - 400 }))).resolves.toBeTruthy();
    await expectAuthError(lenient.verify(await token({ expiresIn: -40, iat: now() - 400 })), 'invalid_token', 401, /expired/);
  });

  it('not valid yet (nbf in the future)', async () => {
    await expectAuthError(verifier.verify(await token({ claims: { nbf: now() + 60 } })), 'invalid_token', 401, /nbf claim/);
    await expect(verifier.verify(await token({ claims: { nbf: now() + 3 } }))).resolves.toBeTruthy();
  });

  it('typ JWT (an ID token or any other JWT) instead of at+jwt, or no typ', async () => {
    await expectAuthError(verifier.verify(await token({ header: { typ: 'JWT' } })), 'invalid_token', 401, /typ claim/);
    await expectAuthError(verifier.verify(await token({ header: { typ: undefined } })), 'invalid_token', 401, /typ/);
  });

  it('missing required claims (client_id, sub, exp, iat)', async () => {
    for (const claim of ['client_id', 'sub', 'iat']) {
      await expectAuthError(verifier.verify(await token({ claims: { [claim]: undefined } })), 'invalid_token', 401, new RegExp(claim));
    }
    const noExp = await new SignJWT({ sub: 'u', client_id: 'sales', iss: hub.issuer, aud: AUDIENCE, iat: now() })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: key.kid }).sign(key.privateKey);
    await expectAuthError(verifier.verify(noExp), 'invalid_token', 401, /exp/);
  });

  it('alg HS256 (also keyed with the public key: algorithm confusion), alg none, RS384', async () => {
    const claims = { iss: hub.issuer, aud: AUDIENCE, sub: 'u', client_id: 'sales', iat: now(), exp: now() + 300 };
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: key.kid }).sign(randomBytes(32));
    await expectAuthError(verifier.verify(hs), 'invalid_token', 401, /not signed with RS256/);
    const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: key.kid })
      .sign(new TextEncoder().encode(JSON.stringify(key.publicJwk)));
    await expectAuthError(verifier.verify(confused), 'invalid_token', 401, /not signed with RS256/);

    await expectAuthError(verifier.verify(rawJwt({ alg: 'none', typ: 'at+jwt', kid: key.kid }, claims)), 'invalid_token', 401, /not signed with RS256/);
    await expectAuthError(verifier.verify(rawJwt({ alg: 'none', typ: 'at+jwt' }, claims)), 'invalid_token', 401, /RS256|malformed/);

    // RS384 with the very key the JWKS publishes: still refused, only RS256 is accepted.
    const rs384 = await new SignJWT(claims).setProtectedHeader({ alg: 'RS384', typ: 'at+jwt', kid: key.kid }).sign(KeyObject.from(key.privateKey));
    await expectAuthError(verifier.verify(rs384), 'invalid_token', 401, /not signed with RS256/);
  });

  it('tampered signature, tampered payload, a foreign key under a known kid', async () => {
    const good = await token();
    const [h, p, s] = good.split('.');
    const flipped = `${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
    await expectAuthError(verifier.verify(`${h}.${p}.${flipped}`), 'invalid_token', 401, /signature is invalid/);

    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const elevated = Buffer.from(JSON.stringify({ ...payload, scope: 'leads:read leads:write admin' })).toString('base64url');
    await expectAuthError(verifier.verify(`${h}.${elevated}.${s}`), 'invalid_token', 401, /signature is invalid/);

    const attacker = await makeKey(key.kid);
    await expectAuthError(verifier.verify(await token({}, attacker)), 'invalid_token', 401, /signature is invalid/);
  });

  it('garbage, empty and non-string input', async () => {
    await expectAuthError(verifier.verify(''), 'invalid_token', 401, /no access token/);
    await expectAuthError(verifier.verify(undefined as unknown as string), 'invalid_token', 401, /no access token/);
    for (const garbage of ['garbage', 'a.b.c', 'a.b', '....', `${'x'.repeat(5000)}.y.z`, 'eyJhbGciOiJSUzI1NiJ9.e30.', '{"alg":"RS256"}']) {
      await expectAuthError(verifier.verify(garbage), 'invalid_token', 401, /malformed|cannot be verified|RS256/);
    }
  });

  it('a token without kid', async () => {
    await expectAuthError(verifier.verify(await token({ header: { kid: undefined } })), 'invalid_token', 401, /no kid/);
  });

  it('errors carry RFC 6750 JSON and a WWW-Authenticate value', async () => {
    const error = await expectAuthError(verifier.verify(await token({ audience: 'urn:nexus:x' })), 'invalid_token', 401);
    expect(error.toJSON()).toEqual({ error: 'invalid_token', error_description: error.message });
    expect(error.wwwAuthenticate()).toMatch(/^Bearer realm="nexus", error="invalid_token", error_description="[^"]*"$/);
    expect(new NexusAuthError('insufficient_scope', 'missing "x"').wwwAuthenticate('app')).toBe(`Bearer realm="app", error="insufficient_scope", error_description="missing 'x'"`);
  });
});

describe('the JWKS cache', () => {
  const extra: FakeHub[] = [];
  afterEach(async () => { await Promise.all(extra.splice(0).map((h) => h.close())); });
  async function fresh(keys: SigningKey[], jwks: { cooldownMs?: number; maxAgeMs?: number; timeoutMs?: number } = {}) {
    const h = await startFakeHub(keys);
    extra.push(h);
    return { h, v: createVerifier({ issuer: h.issuer, audience: AUDIENCE, jwks }) };
  }
  const tokenFor = (h: FakeHub, signer: SigningKey, claims: Record<string, unknown> = {}) => signToken(signer, { issuer: h.issuer, audience: AUDIENCE, claims });

  it('fetches the JWKS once for many verifications, concurrent first ones included', async () => {
    const { h, v } = await fresh([key]);
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => tokenFor(h, key, { sub: `u-${i}` })));
    const first = await Promise.all(tokens.map((t) => v.verify(t)));
    expect(first.map((p) => p.sub)).toEqual(tokens.map((_, i) => `u-${i}`));
    for (let i = 0; i < 300; i++) await v.verify(tokens[i % tokens.length]);
    expect(h.requests).toBe(1);
  });

  // Long enough that "within the cooldown" holds on a loaded machine; tokens are signed first.
  const COOLDOWN = 1000;
  const afterCooldown = () => sleep(COOLDOWN + 100);

  it('refetches once for 100 forged kids in parallel, then not again within the cooldown', async () => {
    const { h, v } = await fresh([key], { cooldownMs: COOLDOWN });
    const { forger } = spare;
    const [held, forged0, ...forged] = await Promise.all([
      tokenFor(h, key), tokenFor(h, forger),
      ...Array.from({ length: 100 }, (_, i) => tokenFor(h, { ...forger, kid: `forged-${i + 1}` })),
    ]);
    await v.verify(held);
    expect(h.requests).toBe(1);

    // Within the cooldown of the first fetch an unknown kid causes no request at all.
    await expectAuthError(v.verify(forged0), 'invalid_token', 401, /no key with kid forged-0/);
    expect(h.requests).toBe(1);

    await afterCooldown();
    const results = await Promise.allSettled(forged.map((t) => v.verify(t)));
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof NexusAuthError && r.reason.status === 401)).toBe(true);
    expect((results[0] as PromiseRejectedResult).reason.message).toMatch(/no key with kid forged-1 in the hub's JWKS/);
    expect(h.requests).toBe(2);

    await Promise.allSettled(forged.map((t) => v.verify(t)));
    expect(h.requests).toBe(2);
    // The real key still verifies throughout.
    await expect(v.verify(held)).resolves.toBeTruthy();
    expect(h.requests).toBe(2);
  });

  it('picks up a rotated key after the cooldown; until then the new kid is refused', async () => {
    const { h, v } = await fresh([key], { cooldownMs: COOLDOWN });
    const next = spare.rotated;
    const [oldToken, newToken] = await Promise.all([tokenFor(h, key), tokenFor(h, next)]);
    await v.verify(oldToken);
    h.publish([next, key]); // the hub rotated: new key first, old one still published

    // Documented trade-off: within the cooldown the new kid is not fetched.
    await expectAuthError(v.verify(newToken), 'invalid_token', 401, /no key with kid rotated/);
    expect(h.requests).toBe(1);

    await afterCooldown();
    await expect(v.verify(newToken)).resolves.toMatchObject({ sub: 'user-1' });
    await expect(v.verify(oldToken)).resolves.toBeTruthy(); // old key still published
    expect(h.requests).toBe(2);
  });

  it('keeps verifying tokens with a cached kid while the hub is down, and fails new kids with 401', async () => {
    const { h, v } = await fresh([key], { cooldownMs: 100, timeoutMs: 1000 });
    const [held, unknown] = await Promise.all([tokenFor(h, key), tokenFor(h, spare.outage)]);
    await v.verify(held);
    await h.down();
    for (let i = 0; i < 10; i++) await expect(v.verify(held)).resolves.toBeTruthy();

    await sleep(150);
    const refused = await expectAuthError(v.verify(unknown), 'invalid_token', 401);
    expect(refused.message).toMatch(/cannot be verified/);
    expect(h.requests).toBe(1); // the refused connection never reached the handler
    // The failed refresh kept the keys it had.
    await expect(v.verify(held)).resolves.toBeTruthy();

    // A hub answering 503 is the same.
    await h.up();
    h.failWith(503);
    await sleep(150);
    await expectAuthError(v.verify(unknown), 'invalid_token', 401, /JWKS request failed with 503/);
    expect(h.requests).toBe(2);
    await expect(v.verify(held)).resolves.toBeTruthy();
  });

  it('a cold cache with the hub down refuses with 401, and recovers after the cooldown', async () => {
    const { h, v } = await fresh([key], { cooldownMs: COOLDOWN });
    const t = await tokenFor(h, key);
    await h.down();
    await expectAuthError(v.verify(t), 'invalid_token', 401, /cannot be verified/);
    await h.up();
    // Still within the cooldown of the failed attempt: no new request yet.
    await expectAuthError(v.verify(t), 'invalid_token', 401, /no key with kid/);
    expect(h.requests).toBe(0);
    await afterCooldown();
    await expect(v.verify(t)).resolves.toBeTruthy();
    expect(h.requests).toBe(1);
  });

  it('gives up on a JWKS request that hangs after timeoutMs', async () => {
    const hang = await listen(() => { /* never answers */ });
    try {
      const v = createVerifier({ issuer: hub.issuer, audience: AUDIENCE, jwksUri: `http://127.0.0.1:${hang.port}/jwks`, jwks: { timeoutMs: 300 } });
      const started = Date.now();
      await expectAuthError(v.verify(await token()), 'invalid_token', 401, /cannot be verified/);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await hang.close();
    }
  });

  it('drops a key withdrawn from the JWKS at the next refresh', async () => {
    const { h, v } = await fresh([key], { cooldownMs: 100 });
    const next = spare.successor;
    const [old, fresher] = await Promise.all([tokenFor(h, key), tokenFor(h, next)]);
    await v.verify(old);
    h.publish([next]); // the hub retired the old key
    await sleep(150);
    await expect(v.verify(fresher)).resolves.toBeTruthy(); // refresh via the unknown kid
    await expectAuthError(v.verify(old), 'invalid_token', 401, /no key with kid main/);

    // An explicit refresh (start-up warm-up or a timer) drops it too.
    const { h: h2, v: v2 } = await fresh([key], { cooldownMs: 100 });
    const old2 = await tokenFor(h2, key);
    await v2.verify(old2);
    h2.publish([next]);
    await sleep(150);
    await v2.keys.refresh();
    await expectAuthError(v2.verify(old2), 'invalid_token', 401, /no key with kid/);
  });

  it('refreshes in the background when the keys are older than maxAgeMs, without blocking', async () => {
    const { h, v } = await fresh([key], { cooldownMs: 50, maxAgeMs: 100 });
    const held = await tokenFor(h, key);
    await v.verify(held);
    await sleep(150);
    await v.verify(held);
    await vi.waitFor(() => expect(h.requests).toBe(2));
    // A background refresh that fails is harmless.
    await h.down();
    await sleep(150);
    await expect(v.verify(held)).resolves.toBeTruthy();
    await sleep(50);
    await expect(v.verify(held)).resolves.toBeTruthy();
  });

  it('ignores non-RSA and encryption keys in the JWKS', async () => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const ec = { ...(await exportJWK(publicKey)), kid: 'ec', use: 'sig' };
    const enc = { ...(await makeKey('enc')).publicJwk, use: 'enc' };
    const h = await startFakeHub();
    extra.push(h);
    h.publish([ec, enc, key.publicJwk]);
    const cache = new JwksCache({ jwksUri: h.jwksUri });
    await cache.refresh();
    await expect(cache.getKey({ alg: 'RS256', kid: key.kid })).resolves.toBeTruthy();
    await expect(cache.getKey({ alg: 'RS256', kid: 'enc' })).rejects.toThrow(/no key with kid enc/);
    await expect(cache.getKey({ alg: 'RS256', kid: 'ec' })).rejects.toThrow(/no key with kid ec/);
    expect(h.requests).toBe(1);
  });

  it('uses an injected fetch (e.g. for tests or a proxy)', async () => {
    const calls: string[] = [];
    const v = createVerifier({
      issuer: 'https://id.nexus.example', audience: AUDIENCE,
      jwks: { fetch: (async (url: string) => { calls.push(String(url)); return new Response(JSON.stringify({ keys: [key.publicJwk] })); }) as typeof fetch },
    });
    await expect(v.verify(await signToken(key, { issuer: 'https://id.nexus.example', audience: AUDIENCE }))).resolves.toBeTruthy();
    expect(calls).toEqual(['https://id.nexus.example/jwks']);
  });
});
