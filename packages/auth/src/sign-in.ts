// Sign-in for server-rendered projects: authorization code + PKCE with openid-client, the
// callback, a session kept in encrypted cookies, silent refresh, and RP-initiated logout.
// Framework-neutral: the Koa and Express adapters only move cookies and redirects.
import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import { EncryptJWT, jwtDecrypt } from 'jose';
import { discoverer } from './discovery.js';
import { isSafeReturnTo, readCookie, TOKEN_COOKIE } from './middleware/shared.js';
import type { LogoutStore } from './logout-store.js';

export const SESSION_COOKIE = 'nexus_session';
const TRANSACTION_COOKIE = 'nexus_signin';

export interface SignInOptions {
  issuer: string;
  clientId: string;
  /** Confidential clients only. */
  clientSecret?: string;
  /** This app's callback, registered at the hub. */
  redirectUri: string;
  /** Where the hub sends the browser after logout (registered at the hub). */
  postLogoutRedirectUri?: string;
  /** Default: openid email profile offline_access. Add the API scopes the app needs. */
  scope?: string;
  /** At least 32 characters; encrypts the session cookies. */
  cookieSecret: string;
  /** Default: whether redirectUri is https. */
  secureCookies?: boolean;
  /** Allow an http:// issuer (local development and tests only). */
  allowHttpIssuer?: boolean;
  /**
   * Where back-channel logouts are recorded (BackchannelLogout): a session the hub ended is
   * signed out on its next request. Without it, hub logouts do not reach this app's sessions.
   */
  logouts?: LogoutStore;
}

export interface CookieToSet {
  name: string;
  value: string;
  /** Seconds; 0 deletes the cookie. */
  maxAge: number;
  httpOnly: true;
  secure: boolean;
  sameSite: 'lax';
  path: '/';
}

/** A Set-Cookie header value for a cookie of the sign-in. */
export function serializeCookie({ name, value, maxAge, httpOnly, secure, sameSite, path }: CookieToSet): string {
  const parts = [`${name}=${encodeURIComponent(value)}`, `Path=${path}`, `Max-Age=${maxAge}`, `SameSite=${sameSite[0].toUpperCase()}${sameSite.slice(1)}`];
  if (maxAge === 0) parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  if (httpOnly) parts.push('HttpOnly');
  if (secure) parts.push('Secure');
  return parts.join('; ');
}

export interface SessionUser {
  sub: string;
  email?: string;
  name?: string;
  picture?: string;
}

interface SessionData {
  user: SessionUser;
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  /** Epoch seconds. */
  expiresAt: number;
  /** The hub's session id for this app (the ID token's sid): what a logout token names. */
  sid?: string;
  /** Epoch seconds of the sign-in (sessions from before carry none: treated as just now). */
  signedInAt?: number;
}

export class SignIn {
  /** The app's callback path, where the adapters handle the hub's redirect. */
  readonly callbackPath: string;
  private readonly config: () => Promise<oidc.Configuration>;
  private readonly key: Uint8Array;
  private readonly secure: boolean;

  constructor(private readonly options: SignInOptions) {
    if (options.cookieSecret.length < 32) throw new Error('cookieSecret must be at least 32 characters');
    this.key = createHash('sha256').update(options.cookieSecret).digest();
    this.secure = options.secureCookies ?? options.redirectUri.startsWith('https:');
    this.callbackPath = new URL(options.redirectUri).pathname;
    this.config = discoverer(options);
  }

  private cookie(name: string, value: string, maxAge: number): CookieToSet {
    return { name, value, maxAge, httpOnly: true, secure: this.secure, sameSite: 'lax', path: '/' };
  }

  private seal(data: object, seconds: number) {
    return new EncryptJWT({ data }).setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).setIssuedAt().setExpirationTime(`${seconds}s`).encrypt(this.key);
  }

  private async open<T>(value: string | undefined): Promise<T | undefined> {
    if (!value) return undefined;
    try {
      return (await jwtDecrypt(value, this.key)).payload.data as T;
    } catch {
      return undefined; // tampered, expired or from another secret: treated as absent
    }
  }

  private async sessionCookies(tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers, previous?: SessionData): Promise<CookieToSet[]> {
    const claims = tokens.claims();
    const user: SessionUser = claims
      ? { sub: claims.sub, email: claims.email as string | undefined, name: claims.name as string | undefined, picture: claims.picture as string | undefined }
      : previous!.user;
    const session: SessionData = {
      user,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token ?? previous?.refreshToken,
      idToken: tokens.id_token ?? previous?.idToken,
      expiresAt: Math.floor(Date.now() / 1000) + (tokens.expires_in ?? 300),
      sid: (typeof claims?.sid === 'string' ? claims.sid : undefined) ?? previous?.sid,
      signedInAt: previous?.signedInAt ?? Math.floor(Date.now() / 1000),
    };
    const lifetime = 30 * 24 * 3600;
    return [
      this.cookie(SESSION_COOKIE, await this.seal(session, lifetime), lifetime),
      this.cookie(TOKEN_COOKIE, session.accessToken, tokens.expires_in ?? 300),
    ];
  }

  /** Starts a sign-in: where to send the browser, and the cookie that remembers the attempt. */
  async begin(returnTo = '/'): Promise<{ url: string; cookies: CookieToSet[] }> {
    const config = await this.config();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.options.redirectUri,
      scope: this.options.scope ?? 'openid email profile offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...((this.options.scope ?? 'offline_access').includes('offline_access') ? { prompt: 'consent' } : {}),
    });
    const transaction = await this.seal({ verifier, state, nonce, returnTo: safeReturnTo(returnTo) }, 600);
    return { url: url.href, cookies: [this.cookie(TRANSACTION_COOKIE, transaction, 600)] };
  }

  /** Handles the hub's redirect back: exchanges the code and opens the session. */
  async complete(currentUrl: URL, cookieHeader: string | undefined): Promise<{ returnTo: string; cookies: CookieToSet[] }> {
    const transaction = await this.open<{ verifier: string; state: string; nonce: string; returnTo: string }>(readCookie(cookieHeader, TRANSACTION_COOKIE));
    if (!transaction) throw new SignInError('the sign-in expired or was started in another browser; sign in again');
    const error = currentUrl.searchParams.get('error');
    if (error) throw new SignInError(error === 'access_denied' ? 'access was denied' : `the hub answered ${error}`, error);
    const tokens = await oidc.authorizationCodeGrant(await this.config(), currentUrl, {
      pkceCodeVerifier: transaction.verifier, expectedState: transaction.state, expectedNonce: transaction.nonce, idTokenExpected: true,
    });
    return { returnTo: transaction.returnTo, cookies: [...(await this.sessionCookies(tokens)), this.cookie(TRANSACTION_COOKIE, '', 0)] };
  }

  /**
   * The signed-in user and a fresh access token, refreshing silently when it is about to expire.
   * `cookies` must be sent back when not empty (a refresh happened, or the session ended).
   */
  async current(cookieHeader: string | undefined): Promise<{ user?: SessionUser; accessToken?: string; cookies: CookieToSet[] }> {
    const session = await this.open<SessionData>(readCookie(cookieHeader, SESSION_COOKIE));
    if (!session) return { cookies: [] };
    if (await this.loggedOut(session)) return { cookies: this.clear() };
    if (session.expiresAt - 30 > Date.now() / 1000) return { user: session.user, accessToken: session.accessToken, cookies: [] };
    if (!session.refreshToken) return { cookies: this.clear() };
    try {
      const tokens = await oidc.refreshTokenGrant(await this.config(), session.refreshToken);
      return { user: session.user, accessToken: tokens.access_token, cookies: await this.sessionCookies(tokens, session) };
    } catch (error) {
      // The hub said no (revoked, expired, access removed): the session is over.
      if (error instanceof oidc.ResponseBodyError) return { cookies: this.clear() };
      // The hub is unreachable: keep the session and try again on the next request.
      return { user: session.user, cookies: [] };
    }
  }

  /** Ends the local session and returns the hub's logout URL (the hub asks to confirm). */
  async logout(cookieHeader: string | undefined): Promise<{ url: string; cookies: CookieToSet[] }> {
    const session = await this.open<SessionData>(readCookie(cookieHeader, SESSION_COOKIE));
    const url = oidc.buildEndSessionUrl(await this.config(), {
      ...(session?.idToken ? { id_token_hint: session.idToken } : {}),
      ...(this.options.postLogoutRedirectUri ? { post_logout_redirect_uri: this.options.postLogoutRedirectUri } : {}),
    });
    return { url: url.href, cookies: this.clear() };
  }

  private loggedOut({ user, sid, signedInAt }: SessionData): Promise<boolean> {
    return this.options.logouts?.isEnded({ sub: user.sub, sid, signedInAt: signedInAt ?? Math.floor(Date.now() / 1000) }) ?? Promise.resolve(false);
  }

  private clear(): CookieToSet[] {
    return [this.cookie(SESSION_COOKIE, '', 0), this.cookie(TOKEN_COOKIE, '', 0)];
  }
}

export class SignInError extends Error {
  constructor(message: string, readonly code = 'sign_in_failed') {
    super(message);
    this.name = 'SignInError';
  }
}

/** Only same-site paths: an open redirect through returnTo must be impossible. */
function safeReturnTo(value: string): string {
  return isSafeReturnTo(value) ? value : '/';
}
