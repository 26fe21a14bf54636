// Liminal 2.0 (Next.js): the seed's `middleware.ts`. Every page under /dashboard needs a Nexus
// sign-in; a browser without a valid token is sent to /login?returnTo=…, an API call gets 401 JSON.
// Next.js runs this on the Edge runtime, where @nexus/auth uses only fetch, Request and jose.
import { nexusNext } from '@nexus/auth';

export const middleware = nexusNext({
  issuer: process.env.NEXUS_ISSUER ?? 'http://localhost:3000',
  audience: process.env.NEXUS_AUDIENCE ?? 'urn:nexus:liminal',
});

// Next.js calls the middleware only for these paths; everything else stays public.
export const config = { matcher: ['/dashboard/:path*'] };
