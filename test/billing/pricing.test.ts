// The public pricing page: the four plans with what each unlocks in every project (worded from
// plans.json), "Sign in to choose" for visitors, and for a signed-in user their current plan
// marked and working checkout forms for the others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, parseForm } from '../support/browser.js';
import { checkoutSession, deliver, event, subscription } from './events.js';
import { createUser, page, planSection, signInToAccount, startBillingHub, textOf, type BillingHub } from './support.js';

let h: BillingHub;
beforeAll(async () => {
  h = await startBillingHub();
});
afterAll(() => h?.stop());

/** Each plan's section of the page (visible text and markup), in plan order. */
const sections = (html: string) => ['free', 'pro', 'business', 'enterprise'].map((id) => ({ id, text: textOf(planSection(html, id)), html: planSection(html, id) }));

describe('GET /pricing without a session', () => {
  let html: string;
  beforeAll(async () => {
    const response = await fetch(`${h.t.url}/pricing`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    html = await response.text();
  });

  it('lists the four plans in order with their prices', () => {
    const order = [...html.matchAll(/aria-labelledby="plan-(\w+)-name"/g)].map((m) => m[1]);
    expect(order).toEqual(['free', 'pro', 'business', 'enterprise']);
    const [free, pro, business, enterprise] = sections(html);
    expect(free.text).toMatch(/^Free \$0 ?\/month/);
    expect(pro.text).toMatch(/^Pro Most popular \$49 ?\/month/);
    expect(business.text).toMatch(/^Business \$149 ?\/month/);
    expect(enterprise.text).toMatch(/^Enterprise Custom/);
    expect(textOf(html)).not.toContain('Online billing is not configured');
  });

  it('shows what each plan unlocks per project, worded from plans.json', () => {
    const [free, pro, business, enterprise] = sections(html);
    expect(free.text).toContain('Nexus Sales CRM 50 leads per month');
    expect(free.text).toContain('Dream People Basic portfolio');
    expect(free.text).toContain('Testing Hub 1 Express Audit discount');
    expect(free.text).not.toContain('Liminal 2.0');
    expect(free.text).not.toContain('Automation');

    expect(pro.text).toContain('Nexus Sales CRM 500 leads per month Automation');
    expect(pro.text).toContain('Human-capital calculator');
    expect(pro.text).toContain('Priority support');
    expect(pro.text).toContain('Liminal 2.0 All features');
    expect(pro.text).not.toContain('White-label');
    expect(pro.text).not.toContain('Team features');

    expect(business.text).toContain('Nexus Sales CRM Unlimited leads per month Automation Team features');
    expect(business.text).toContain('Human-capital calculator AI advisor Export');
    expect(business.text).toContain('1 QA retainer credit(s) per month');
    expect(business.text).toContain('Liminal 2.0 All features White-label');

    expect(enterprise.text).toContain('Unlimited leads per month');
    expect(enterprise.text).toContain('4 QA retainer credit(s) per month');
    expect(enterprise.text).toContain('White-label');
  });

  it('offers "Sign in to choose" for the plans bought online, "Contact sales" for enterprise, no checkout form', () => {
    const [free, pro, business, enterprise] = sections(html);
    for (const plan of [pro, business]) {
      expect(plan.html).toContain('<a class="button" href="/account/login?returnTo=/pricing">Sign in to choose</a>');
    }
    expect(free.text).not.toContain('Sign in to choose');
    expect(enterprise.text).not.toContain('Sign in to choose');
    expect(enterprise.html).toContain('Contact sales');
    expect(html).not.toContain('Current plan');
    expect(html).not.toContain('<form');
  });

  it('says so when the visitor comes back from a canceled checkout', async () => {
    const canceled = await (await fetch(`${h.t.url}/pricing?checkout=canceled`)).text();
    expect(textOf(canceled)).toContain('Checkout was canceled; nothing was charged.');
  });
});

describe('GET /pricing with a session', () => {
  const EMAIL = 'lea@example.com';
  let userId: string;
  let browser: Browser;

  beforeAll(async () => {
    userId = (await createUser(h.t, EMAIL)).id;
    browser = new Browser(h.t.url);
  });

  it('"Sign in to choose" signs in at the hub and comes back to the pricing page, with the free plan marked current', async () => {
    const visitor = await (await fetch(`${h.t.url}/pricing`)).text();
    const link = /href="([^"]+)">Sign in to choose/.exec(visitor)![1];
    const returned = await signInToAccount(browser, EMAIL, new URL(link, h.t.url).searchParams.get('returnTo')!);
    expect(returned.response.status).toBe(200);
    expect(textOf(returned.body)).toContain(`Signed in as ${EMAIL}`);

    const [free, pro, business, enterprise] = sections(returned.body);
    expect(free.text).toContain('Current plan');
    for (const other of [pro, business, enterprise]) expect(other.text).not.toContain('Current plan');
    expect(pro.text).toContain('Choose Pro');
    expect(business.text).toContain('Choose Business');
    expect(returned.body).not.toContain('Sign in to choose');
  });

  it('its checkout form goes to Stripe Checkout for that plan', async () => {
    const pricing = await page(browser, '/pricing');
    const form = parseForm(planSection(pricing.body, 'business'), '/api/billing/checkout');
    expect(form.fields).toEqual({ csrf: expect.any(String), plan: 'business' });
    const answer = await browser.post(form.action, form.fields);
    expect(answer.status).toBe(303);
    const [session] = h.stripe.requestsTo('POST', '/v1/checkout/sessions');
    expect(session.form).toMatchObject({ 'line_items[0][price]': 'price_business_monthly', client_reference_id: userId });
    expect(answer.headers.get('location')).toBe(session.response.url);
  });

  it('after an upgrade the pro plan is the one marked current', async () => {
    const customer = h.stripe.requestsTo('POST', '/v1/customers')[0].response.id;
    h.stripe.putSubscription(subscription({ id: 'sub_lea', customer, price: 'price_pro_monthly' }));
    const delivered = await deliver(h.t.url, event('checkout.session.completed', checkoutSession({ userId, customer, subscription: 'sub_lea' })));
    expect(delivered.body).toEqual({ received: true, outcome: 'applied' });

    const [free, pro, business] = sections((await page(browser, '/pricing')).body);
    expect(pro.text).toContain('Current plan');
    expect(pro.html).not.toContain('<form');
    expect(free.text).not.toContain('Current plan');
    expect(business.text).toContain('Choose Business');
  });
});
