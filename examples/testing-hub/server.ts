// Testing Hub, reduced to its migration: `GET /api/audits` answers users of the old login
// (`th_session` cookie, kept in memory here) and users who already sign in through Nexus.
//
//   NEXUS_ISSUER=http://localhost:3000 NEXUS_AUDIENCE=urn:nexus:testing npx tsx examples/testing-hub/server.ts
import express from 'express';
import { readCookie } from '@nexus/auth';
import { migrationAuth, type LegacyUser, type TestingHubUser } from './auth.js';

export function createTestingHubApp(legacySessions: Map<string, LegacyUser>, options: { issuer?: string; audience?: string } = {}) {
  const app = express();
  const legacyAuth = (req: express.Request) => {
    const session = readCookie(req.get('cookie'), 'th_session');
    return session ? legacySessions.get(session) : undefined;
  };
  app.use('/api', migrationAuth(legacyAuth, options));
  app.get('/api/audits', (_req, res) => {
    const user = res.locals.user as TestingHubUser;
    res.json({ audits: [{ id: 'express-audit-1', status: 'completed' }], user: { id: user.id, email: user.email, source: user.source } });
  });
  return app;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.PORT ?? 3007);
  createTestingHubApp(new Map()).listen(port, () => process.stdout.write(`Testing Hub on http://localhost:${port}\n`));
}
