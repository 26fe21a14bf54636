// Testing Hub's way onto Nexus: while its users move over, a request is authenticated by a Nexus
// access token when one is present (the `nexus_token` cookie or a Bearer header), and by the
// project's old session otherwise. A Nexus token that is present but invalid (expired, another
// project's) is refused rather than falling back: a migrated user signs in again through Nexus,
// and the old login cannot quietly stand in for a token the hub no longer honours.
import type { NextFunction, Request, Response } from 'express';
import { extractToken, NexusAuthError, verifyToken, type Principal, type VerifyTokenOptions } from '@nexus/auth';

export interface LegacyUser {
  id: string;
  email: string;
}

export type TestingHubUser =
  | { source: 'nexus'; id: string; email: string | undefined; principal: Principal }
  | { source: 'legacy'; id: string; email: string };

/** The project's existing authentication: the user of a request's old session, if any. */
export type LegacyAuth = (req: Request) => Promise<LegacyUser | undefined> | LegacyUser | undefined;

export function migrationAuth(legacyAuth: LegacyAuth, options: VerifyTokenOptions = {}) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const token = extractToken(req.get('authorization'), req.get('cookie'));
    try {
      if (token) {
        const principal = await verifyToken(token, options);
        res.locals.user = { source: 'nexus', id: principal.sub, email: principal.email, principal } satisfies TestingHubUser;
        return next();
      }
      const legacy = await legacyAuth(req);
      if (!legacy) return res.status(401).json({ error: 'login_required', error_description: 'sign in with Nexus or your Testing Hub account' });
      res.locals.user = { source: 'legacy', ...legacy } satisfies TestingHubUser;
      return next();
    } catch (error) {
      if (!(error instanceof NexusAuthError)) return next(error);
      res.set('WWW-Authenticate', error.wwwAuthenticate('testing-hub'));
      return res.status(error.status).json(error.toJSON());
    }
  };
}
