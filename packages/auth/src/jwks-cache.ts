// The hub's signing keys, fetched once and kept. A token with an unknown `kid` (the hub
// rotated) triggers one refetch, at most once per `cooldownMs`, so a flood of forged kids
// cannot hammer the hub. Keys already held keep working when the hub is unreachable: a failed
// refresh never drops them.
import { importJWK, type JWK, type JWTHeaderParameters, type FlattenedJWSInput } from 'jose';

export interface JwksCacheOptions {
  jwksUri: string;
  /** Minimum time between two fetches. Default 30 s. */
  cooldownMs?: number;
  /** Refresh in the background when the keys are older than this. Default 10 min. */
  maxAgeMs?: number;
  /** Give up on a fetch after this long. Default 5 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

type VerifyKey = Awaited<ReturnType<typeof importJWK>>;

export class JwksCache {
  private keys = new Map<string, VerifyKey>();
  private fetchedAt = 0;
  private attemptedAt = 0;
  private inflight: Promise<void> | undefined;
  private readonly cooldownMs: number;
  private readonly maxAgeMs: number;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: JwksCacheOptions) {
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.maxAgeMs = options.maxAgeMs ?? 600_000;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** A jose key-resolver: `jwtVerify(token, cache.getKey, ...)`. */
  readonly getKey = async (header: JWTHeaderParameters, _token?: FlattenedJWSInput): Promise<VerifyKey> => {
    const kid = header.kid;
    if (!kid) throw new Error('the token has no kid');
    const known = this.keys.get(kid);
    if (known) {
      if (Date.now() - this.fetchedAt > this.maxAgeMs) this.refresh().catch(() => {});
      return known;
    }
    await this.refresh();
    const fetched = this.keys.get(kid);
    if (!fetched) throw new Error(`no key with kid ${kid} in the hub's JWKS`);
    return fetched;
  };

  /** Fetches the JWKS unless one was attempted within the cooldown. Concurrent calls share one fetch. */
  refresh(): Promise<void> {
    if (this.inflight) return this.inflight;
    if (Date.now() - this.attemptedAt < this.cooldownMs) return Promise.resolve();
    this.attemptedAt = Date.now();
    this.inflight = this.load().finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  private async load() {
    const response = await this.fetchImpl(this.options.jwksUri, { signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`JWKS request failed with ${response.status}`);
    const { keys } = (await response.json()) as { keys?: JWK[] };
    if (!Array.isArray(keys)) throw new Error('the JWKS response has no keys');
    const next = new Map<string, VerifyKey>();
    for (const jwk of keys) {
      if (!jwk.kid || jwk.kty !== 'RSA' || (jwk.use && jwk.use !== 'sig')) continue;
      next.set(jwk.kid, await importJWK(jwk, 'RS256'));
    }
    // Keys the hub withdrew are dropped: a retired key must stop verifying.
    this.keys = next;
    this.fetchedAt = Date.now();
  }
}
