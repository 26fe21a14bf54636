// Express: `app.use(nexusExpress({ issuer, audience }))`, then `req.nexus` is the Principal.
// Guard failures passed to next(err) or thrown in async handlers wrapped with `guarded` are
// answered by `nexusErrors()`.
import { NexusAuthError } from '../errors.js';
import type { Principal } from '../principal.js';
import { denial, extractToken, toVerifier, type ProtectOptions, type VerifierInput } from './shared.js';

interface ExpressLikeRequest {
  path: string;
  /** The mount path (`app.use('/api', ...)`), which Express strips from `path`. */
  baseUrl: string;
  originalUrl: string;
  method: string;
  headers: Record<string, string | string[] | undefined>;
  nexus?: Principal;
  /** Set by signInExpress: newer than the cookie when the session was just refreshed. */
  nexusAccessToken?: string;
}
interface ExpressLikeResponse {
  status(code: number): ExpressLikeResponse;
  set(name: string, value: string): ExpressLikeResponse;
  json(body: unknown): unknown;
  end(): unknown;
}
type Next = (error?: unknown) => void;

const header = (req: ExpressLikeRequest, name: string) => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

function answer(error: NexusAuthError, req: ExpressLikeRequest, res: ExpressLikeResponse, options: ProtectOptions) {
  const result = denial(error, { path: `${req.baseUrl}${req.path}`, url: req.originalUrl, method: req.method }, options);
  res.status(result.status);
  for (const [name, value] of Object.entries(result.headers)) res.set(name, value);
  if (result.body === undefined) res.end();
  else res.json(result.body);
}

export function nexusExpress(verifier: VerifierInput, options: ProtectOptions = {}) {
  const v = toVerifier(verifier);
  return function nexusAuth(req: ExpressLikeRequest, res: ExpressLikeResponse, next: Next) {
    const token = extractToken(header(req, 'authorization'), undefined) ?? req.nexusAccessToken ?? extractToken(undefined, header(req, 'cookie'));
    v.verify(token ?? '').then(
      (principal) => { req.nexus = principal; next(); },
      (error) => (error instanceof NexusAuthError ? answer(error, req, res, options) : next(error)),
    );
  };
}

/** Error middleware: answers NexusAuthError (from guards) as 401/403 JSON; passes others on. */
export function nexusErrors(options: ProtectOptions = {}) {
  return function nexusErrorHandler(error: unknown, req: ExpressLikeRequest, res: ExpressLikeResponse, next: Next) {
    if (error instanceof NexusAuthError) answer(error, req, res, options);
    else next(error);
  };
}
