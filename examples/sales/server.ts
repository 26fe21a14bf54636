// Nexus Sales CRM, reduced to what integration needs: sign in through the hub, show the user's
// name, serve GET /api/leads to callers holding the leads:read scope and GET /api/summary (the
// card of the user's Nexus dashboard) to any signed-in caller, and end its sessions when
// the hub says so (POST /auth/backchannel-logout, OpenID Connect Back-Channel Logout).
//
//   SALES_CLIENT_SECRET=... npx tsx examples/sales/server.ts
//
// Environment: NEXUS_ISSUER (default http://localhost:3000), PORT (3001), SALES_CLIENT_SECRET
// (from data/client-secrets.json), SALES_COOKIE_SECRET (32+ characters).
import http from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import {
  BackchannelLogout, backchannelLogoutKoa, MemoryLogoutStore, SignIn, signInKoa, requireScope, type Principal, type SessionUser,
} from '@nexus/auth';
import { salesApiAuth } from './gateway-api.js';

export interface SalesOptions {
  issuer: string;
  port: number;
  clientSecret: string;
  cookieSecret: string;
}

const LEADS = [
  { id: 1, company: 'Acme Robotics', stage: 'qualified' },
  { id: 2, company: 'Globex', stage: 'proposal' },
];

const DEALS = [
  { id: 1, company: 'Acme Robotics', valueCents: 1_250_000, status: 'open' },
  { id: 2, company: 'Globex', valueCents: 480_000, status: 'open' },
  { id: 3, company: 'Initech', valueCents: 90_000, status: 'won' },
];

/** The card of the user's Nexus dashboard (GET /api/summary through the gateway): see README "The user's dashboard". */
function summary(origin: string) {
  const open = DEALS.filter((deal) => deal.status === 'open');
  return {
    title: 'Sales pipeline',
    metrics: [
      { label: 'Active leads', value: LEADS.length, format: 'number' },
      { label: 'Open deals', value: open.length, format: 'number' },
      { label: 'Pipeline value', value: open.reduce((sum, deal) => sum + deal.valueCents, 0) / 100, format: 'currency' },
    ],
    link: `${origin}/`,
  };
}

function escapeHtml(text: string) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(user: SessionUser | undefined) {
  const body = user
    ? `<h1>Welcome, <span id="user-name">${escapeHtml(user.name ?? user.email ?? user.sub)}</span></h1>
       <p>Signed in to Nexus Sales CRM as ${escapeHtml(user.email ?? '')}.</p>
       <form method="post" action="/logout"><button id="logout" type="submit">Sign out</button></form>`
    : `<h1>Nexus Sales CRM</h1><p><a id="login" href="/login">Sign in with Nexus</a></p>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Nexus Sales CRM</title></head><body>${body}</body></html>`;
}

export function createSalesApp({ issuer, port, clientSecret, cookieSecret }: SalesOptions) {
  const origin = `http://localhost:${port}`;
  // Logouts the hub sends (clients.json: "backchannelLogoutUri": ".../auth/backchannel-logout",
  // sid required); one process, so memory is enough. The sign-in consults it on every request.
  const logouts = new MemoryLogoutStore();
  const signIn = new SignIn({
    issuer,
    clientId: 'sales',
    clientSecret,
    redirectUri: `${origin}/auth/callback`,
    postLogoutRedirectUri: `${origin}/`,
    scope: 'openid email profile offline_access leads:read',
    cookieSecret,
    allowHttpIssuer: issuer.startsWith('http:'),
    logouts,
  });
  const backchannel = new BackchannelLogout({ issuer, clientId: 'sales', store: logouts, requireSid: true, allowHttpIssuer: issuer.startsWith('http:') });
  // A bearer token from a direct caller, or the signed assertion of the Nexus gateway
  // (clients.json: "upstream": "http://localhost:3001/api" → /api/gateway/sales/leads).
  const protect = salesApiAuth(issuer);

  const router = new Router();
  router.get('/', (ctx) => {
    ctx.type = 'html';
    ctx.body = page(ctx.state.user as SessionUser | undefined);
  });
  router.get('/api/leads', protect, (ctx) => {
    const principal = ctx.state.nexus as Principal;
    requireScope(principal, 'leads:read');
    ctx.body = { owner: principal.email, leads: LEADS };
  });
  router.get('/api/summary', protect, (ctx) => {
    ctx.body = summary(origin);
  });

  const app = new Koa();
  app.use(backchannelLogoutKoa(backchannel));
  app.use(signInKoa(signIn));
  app.use(router.routes());
  return app;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.PORT ?? 3001);
  const clientSecret = process.env.SALES_CLIENT_SECRET;
  const cookieSecret = process.env.SALES_COOKIE_SECRET ?? '';
  if (!clientSecret || cookieSecret.length < 32) {
    process.stderr.write('Set SALES_CLIENT_SECRET (see data/client-secrets.json) and SALES_COOKIE_SECRET (32+ characters).\n');
    process.exit(78);
  }
  const app = createSalesApp({ issuer: process.env.NEXUS_ISSUER ?? 'http://localhost:3000', port, clientSecret, cookieSecret });
  http.createServer(app.callback()).listen(port, () => process.stdout.write(`Nexus Sales CRM on http://localhost:${port}\n`));
}
