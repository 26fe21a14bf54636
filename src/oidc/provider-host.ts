// Holds the running oidc-provider. Signing and cookie keys are fixed when a Provider is built,
// so a key change (rotation, retirement, from the CLI or another instance) builds a new one and
// swaps it in; all state lives in PostgreSQL, so the swap is invisible to users. The provider's
// middleware runs inside our Koa app (same context), so cookies are signed with our app's keys.
import compose from 'koa-compose';
import { createLocalJWKSet, type JWK } from 'jose';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { KeyStore, LoadedKeys } from '../keys/store.js';
import type { Logger } from '../logger.js';

function fingerprint(keys: LoadedKeys) {
  return JSON.stringify([keys.jwks.keys.map((k) => k.kid), keys.cookieKeys]);
}

export class ProviderHost {
  private provider!: Provider;
  private jwks!: ReturnType<typeof createLocalJWKSet>;
  private handler!: Middleware;
  private loaded = '';
  private reloading: Promise<void> | undefined;

  constructor(
    private readonly keyStore: KeyStore,
    private readonly build: (keys: LoadedKeys) => Provider,
    private readonly log: Logger,
    /** Called with each new key set; the outer Koa app signs cookies with the cookie keys. */
    private readonly onKeys: (keys: LoadedKeys) => void,
  ) {}

  get current(): Provider {
    return this.provider;
  }

  /** The published verification keys, for checking the hub's own tokens without a request. */
  get verificationKeys(): ReturnType<typeof createLocalJWKSet> {
    return this.jwks;
  }

  /** Rebuilds the provider if the active keys changed. Concurrent calls share one reload. */
  reload(): Promise<void> {
    this.reloading ??= this.load().finally(() => { this.reloading = undefined; });
    return this.reloading;
  }

  private async load() {
    const keys = await this.keyStore.load();
    const next = fingerprint(keys);
    if (next === this.loaded) return;
    const provider = this.build(keys);
    this.onKeys(keys);
    this.provider = provider;
    this.jwks = createLocalJWKSet({ keys: keys.jwks.keys.map(({ kty, n, e, kid, alg, use }: JWK) => ({ kty, n, e, kid, alg, use })) });
    this.handler = compose(provider.middleware) as Middleware;
    if (this.loaded) this.log.info({ kids: keys.jwks.keys.map((k) => k.kid) }, 'signing keys reloaded');
    this.loaded = next;
  }

  middleware(): Middleware {
    return (ctx, next) => this.handler(ctx, next);
  }
}
