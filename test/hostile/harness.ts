// The hostile suite's hub and its callers: one billing-enabled hub (Stripe stand-in) with every
// kind of credential a route can see — an admin token, a billing token, a signed-in hub session
// with its CSRF token, fresh sign-in interactions, client credentials, signed Stripe events —
// and a raw HTTP client that sends exactly the bytes it is given (no URL normalising), a few
// requests at a time.
import http from 'node:http';
import { Browser, parseForm, pkcePair } from '../support/browser.js';
import { adminToken } from '../support/admin-token.js';
import { basicAuth, postForm } from '../support/oauth.js';
import { signature } from '../billing/events.js';
import { billingToken, createUser, signInToAccount, startBillingHub, type BillingHub } from '../billing/support.js';

export const CONCURRENCY = 8;
export const SALES_CALLBACK = 'http://localhost:3001/auth/callback';

// Limits high enough that they never answer instead of the code under test.
const GENEROUS_LIMITS = {
  LOGIN_MAX_FAILURES_PER_ACCOUNT: '1000', LOGIN_MAX_FAILURES_PER_IP: '100000', SIGNUPS_PER_IP_PER_HOUR: '100000',
  AUTHORIZATIONS_PER_IP_PER_MINUTE: '1000000', DEVICE_CODE_FAILURES_PER_IP: '100000', DEVICE_CODE_FAILURES_TOTAL: '10000000',
};

export interface HostileRequest {
  method: string;
  /** Sent as is: percent-escapes, invalid UTF-8 and all. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** What the variant is, for the report. */
  label: string;
}

export interface Answer {
  status: number;
  body: string;
}

export interface Interaction {
  uid: string;
  cookie: string;
  csrf: string;
}

export interface Credentials {
  adminToken: string;
  billingToken: string;
  session: { cookie: string; csrf: string };
  /** Basic authentication of the sales project (client credentials). */
  salesBasic: string;
  /** Basic authentication of agi-safety (device flow). */
  deviceBasic: string;
  /** The sales project as it calls the event bus: a client-credentials token with the bus scopes, one of its webhook endpoints and a delivery to it. */
  project: { token: string; endpointId: string; deliveryId: string };
  /** A fresh sign-in interaction (its own browser cookies), at the login step. */
  interaction(): Promise<Interaction>;
  /** The Stripe-Signature header for a body. */
  stripeSignature(body: string | Buffer): string;
}

/**
 * The sales project's bus credentials. Its endpoint points at a name that never resolves
 * (.invalid): deliveries fail at once, without leaving the machine.
 */
async function busProject(t: BillingHub['t']): Promise<Credentials['project']> {
  const tokens = await postForm(t, '/token', 'sales', { grant_type: 'client_credentials', scope: 'events:write events:read webhooks:manage' });
  if (tokens.status !== 200) throw new Error(`no bus token for sales: ${tokens.text}`);
  const { endpoint } = await t.hub.bus.endpoints.add({ project: 'sales', url: 'https://hostile.invalid/hook', eventTypes: ['deal.won'] });
  await t.hub.bus.sendTest(endpoint.id, null);
  const [delivery] = await t.hub.bus.deliveries.list({ endpointId: endpoint.id });
  return { token: tokens.body.access_token, endpointId: endpoint.id, deliveryId: delivery.id };
}

export const ADMIN_EMAIL = 'root@example.com';
export const USER_EMAIL = 'hostile@example.com';

export class HostileHub {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  requests = 0;

  private constructor(readonly hub: BillingHub, readonly credentials: Credentials) {}

  static async start(): Promise<HostileHub> {
    const hub = await startBillingHub({ ...GENEROUS_LIMITS });
    const { t } = hub;
    await createUser(t, USER_EMAIL, 'Hostile User');
    const browser = new Browser(t.url);
    const account = await signInToAccount(browser, USER_EMAIL);
    const interaction = async (): Promise<Interaction> => {
      const fresh = new Browser(t.url);
      const params = new URLSearchParams({
        client_id: 'sales', redirect_uri: SALES_CALLBACK, response_type: 'code', scope: 'openid email', code_challenge: pkcePair().challenge, code_challenge_method: 'S256',
      });
      const page = await fresh.follow(await fresh.get(`/auth?${params}`));
      const uid = new URL(page.url).pathname.split('/')[2];
      return { uid, cookie: fresh.cookieHeader(), csrf: parseForm(page.body, '/login').fields.csrf };
    };
    const credentials: Credentials = {
      adminToken: await adminToken(t, ADMIN_EMAIL),
      billingToken: await billingToken(t, USER_EMAIL),
      session: { cookie: browser.cookieHeader(), csrf: parseForm(account.body, '/api/billing/checkout').fields.csrf },
      salesBasic: basicAuth('sales', t.secrets.sales),
      deviceBasic: basicAuth('agi-safety', t.secrets['agi-safety']),
      project: await busProject(t),
      interaction,
      stripeSignature: (body) => signature(Buffer.isBuffer(body) ? body.toString('utf8') : body),
    };
    return new HostileHub(hub, credentials);
  }

  get url() {
    return this.hub.t.url;
  }

  get port() {
    return this.hub.t.port;
  }

  send(request: HostileRequest, retry = true): Promise<Answer> {
    this.requests++;
    return new Promise<Answer>((resolve) => {
      const headers: Record<string, string | number> = { host: `localhost:${this.port}`, ...request.headers };
      if (request.body !== undefined) headers['content-length'] = Buffer.byteLength(request.body);
      const req = http.request({ host: '127.0.0.1', port: this.port, method: request.method, path: request.path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, 2000) }));
        res.on('error', (error) => resolve({ status: 0, body: `response error: ${error.message}` }));
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed as idle just as it was reused (a race of HTTP
        // keep-alive, not an answer): send again on a new connection, once.
        if (retry && req.reusedSocket && error.code === 'ECONNRESET') resolve(this.send(request, false));
        // The server may answer (413, 431) and close before a huge body is sent: that is an answer too.
        else resolve({ status: 0, body: `request error: ${error.message}` });
      });
      if (request.body !== undefined) req.write(request.body);
      req.end();
    }).catch((error: Error) => ({ status: 0, body: `not sent: ${error.message}` }));
  }

  /** Sends every request, CONCURRENCY at a time; answers in the same order. */
  async sendAll(requests: HostileRequest[]): Promise<Answer[]> {
    const answers: Answer[] = new Array(requests.length);
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const index = next++;
        answers[index] = await this.send(requests[index]);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return answers;
  }

  async stop() {
    this.agent.destroy();
    await this.hub.stop();
  }
}
