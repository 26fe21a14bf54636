// A local stand-in for the few Stripe API endpoints the hub calls (Stripe itself cannot be
// reached from the test machine). The hub's Stripe client points at it through STRIPE_API_URL;
// the stand-in answers with Stripe-shaped objects and records every request it receives, so
// tests assert on what the hub asked Stripe to do.
//
//   POST /v1/customers                -> customer  cus_<n>
//   POST /v1/checkout/sessions        -> checkout.session cs_<n> (url on checkout.stripe.test)
//   POST /v1/billing_portal/sessions  -> billing_portal.session bps_<n>
//   GET  /v1/subscriptions/:id        -> a subscription put in the store, else Stripe's 404 error
//   GET  /v1/subscriptions?customer=  -> the store's subscriptions of that customer (one page)
//   DELETE /v1/subscriptions/:id      -> canceled at once; an already canceled one is Stripe's 404
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const STRIPE_SECRET_KEY = 'sk_test_nexus';

/** Monthly prices of the plans.json price ids, for subscription updates. */
const PRICE_AMOUNTS: Record<string, number> = { price_pro_monthly: 4900, price_business_monthly: 14900 };

export interface RecordedRequest {
  method: string;
  /** Path without the query string: /v1/customers. */
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  /** The form body as Stripe sent it, flat: { 'line_items[0][price]': 'price_pro_monthly' }. */
  form: Record<string, string>;
  /** The same body with bracket notation expanded: { line_items: [{ price: 'price_pro_monthly' }] }. */
  body: Record<string, unknown>;
  /** The raw body text. */
  raw: string;
  /** What the stand-in answered. */
  status: number;
  response: Record<string, any>;
}

type Json = Record<string, unknown>;

/** Expands Stripe's bracket notation (a[b][0][c]=v) into nested objects and arrays. */
export function expandForm(form: Record<string, string>): Json {
  const root: Json = {};
  for (const [key, value] of Object.entries(form)) {
    const parts = key.replace(/\]/g, '').split('[');
    let node: Record<string, unknown> | unknown[] = root;
    parts.forEach((part, index) => {
      const last = index === parts.length - 1;
      const container = node as Record<string, unknown>;
      if (last) {
        container[part] = value;
        return;
      }
      if (container[part] === undefined) container[part] = /^\d+$/.test(parts[index + 1]) ? [] : {};
      node = container[part] as Record<string, unknown>;
    });
  }
  return root;
}

function stripeError(status: number, type: string, message: string, extra: Json = {}) {
  return { status, body: { error: { type, message, ...extra } } };
}

export class StripeStandIn {
  readonly requests: RecordedRequest[] = [];
  /** Subscriptions GET /v1/subscriptions/:id answers with, by id. */
  readonly subscriptions = new Map<string, Json>();
  private counter = 0;
  private constructor(private readonly server: http.Server, readonly url: string) {}

  static async start(): Promise<StripeStandIn> {
    let standIn: StripeStandIn | undefined;
    const server = http.createServer((req, res) => {
      standIn!.handle(req, res).catch((error) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'api_error', message: String(error) } }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    standIn = new StripeStandIn(server, `http://127.0.0.1:${port}`);
    return standIn;
  }

  /** Puts (or replaces) a subscription that GET /v1/subscriptions/:id will return. */
  putSubscription(subscription: Json & { id: string }) {
    this.subscriptions.set(subscription.id, subscription);
  }

  /** Requests matching a method and a path (string: exact, RegExp: pattern). */
  requestsTo(method: string, path: string | RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path)));
  }

  /** Forgets the recorded requests (not the store). */
  clear() {
    this.requests.length = 0;
  }

  async close() {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.url);
    const form = Object.fromEntries(new URLSearchParams(raw));
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, form, body: expandForm(form), raw, status: 0, response: {},
    };
    this.requests.push(recorded);
    const { status, body } = this.route(recorded);
    recorded.status = status;
    recorded.response = body;
    const requestId = `req_standin_${this.requests.length}`;
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': requestId });
    res.end(JSON.stringify(body));
  }

  private route(request: Omit<RecordedRequest, 'status' | 'response'>): { status: number; body: Json } {
    if (request.headers.authorization !== `Bearer ${STRIPE_SECRET_KEY}`) {
      return stripeError(401, 'invalid_request_error', 'Invalid API Key provided.');
    }
    const now = Math.floor(Date.now() / 1000);
    const { method, path, form, body } = request;
    if (method === 'POST' && path === '/v1/customers') {
      const id = `cus_${++this.counter}`;
      return {
        status: 200,
        body: {
          id, object: 'customer', created: now, livemode: false, email: form.email ?? null, name: form.name ?? null,
          metadata: (body.metadata as Json | undefined) ?? {}, balance: 0, currency: null, delinquent: false, invoice_settings: {},
        },
      };
    }
    if (method === 'POST' && path === '/v1/checkout/sessions') {
      const n = ++this.counter;
      const id = `cs_test_${n}`;
      return {
        status: 200,
        body: {
          id, object: 'checkout.session', created: now, livemode: false, mode: form.mode ?? 'payment', status: 'open', payment_status: 'unpaid',
          url: `https://checkout.stripe.test/c/pay/${id}`, customer: form.customer ?? null, client_reference_id: form.client_reference_id ?? null,
          success_url: form.success_url ?? null, cancel_url: form.cancel_url ?? null, metadata: (body.metadata as Json | undefined) ?? {},
          subscription: null, expires_at: now + 24 * 3600,
        },
      };
    }
    if (method === 'POST' && path === '/v1/billing_portal/sessions') {
      if (!form.customer) return stripeError(400, 'invalid_request_error', 'Missing required param: customer.', { param: 'customer', code: 'parameter_missing' });
      const n = ++this.counter;
      return {
        status: 200,
        body: {
          id: `bps_${n}`, object: 'billing_portal.session', created: now, livemode: false, customer: form.customer,
          return_url: form.return_url ?? null, url: `https://billing.stripe.test/p/session/${n}`,
        },
      };
    }
    if (method === 'GET' && path === '/v1/subscriptions') {
      const customer = request.query.get('customer');
      const data = [...this.subscriptions.values()].filter((s) => !customer || s.customer === customer);
      return { status: 200, body: { object: 'list', url: '/v1/subscriptions', has_more: false, data } };
    }
    const subscription = /^\/v1\/subscriptions\/([^/]+)$/.exec(path);
    if (method === 'DELETE' && subscription) {
      // Stripe treats a canceled subscription as gone: canceling it again is resource_missing.
      const id = decodeURIComponent(subscription[1]);
      const found = this.subscriptions.get(id);
      if (!found || found.status === 'canceled') return stripeError(404, 'invalid_request_error', `No such subscription: '${id}'`, { code: 'resource_missing', param: 'id' });
      const canceled = { ...found, status: 'canceled', canceled_at: now, ended_at: now };
      this.subscriptions.set(id, canceled);
      return { status: 200, body: canceled };
    }
    if (method === 'GET' && subscription) {
      const id = decodeURIComponent(subscription[1]);
      const found = this.subscriptions.get(id);
      if (found) return { status: 200, body: found };
      return stripeError(404, 'invalid_request_error', `No such subscription: '${id}'`, { code: 'resource_missing', param: 'id' });
    }
    if (method === 'POST' && subscription) {
      // Subscription update: a price change of its first item, as the hub makes it.
      const id = decodeURIComponent(subscription[1]);
      const found = this.subscriptions.get(id) as Record<string, any> | undefined;
      if (!found) return stripeError(404, 'invalid_request_error', `No such subscription: '${id}'`, { code: 'resource_missing', param: 'id' });
      const price = form['items[0][price]'];
      const item = found.items.data[0];
      const updated = {
        ...found,
        metadata: { ...found.metadata, ...((body.metadata as Json | undefined) ?? {}) },
        items: { ...found.items, data: [{ ...item, price: { ...item.price, id: price ?? item.price.id, unit_amount: PRICE_AMOUNTS[price] ?? item.price.unit_amount } }] },
      };
      this.subscriptions.set(id, updated);
      return { status: 200, body: updated };
    }
    return stripeError(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path}).`);
  }
}
