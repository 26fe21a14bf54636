// Turns a catalog entry into hostile requests: for each credential it lists, the baseline, each
// parameter replaced in turn by each hostile value, structural oddities (repeated and bracketed
// names, a thousand parameters), each path parameter replaced, and bodies of the wrong kind.
import { randomBytes } from 'node:crypto';
import type { Auth, RouteSpec } from './catalog.js';
import type { Credentials, HostileRequest } from './harness.js';
import { BODY_VARIANTS, encodeForm, ENCODED_VALUES, JSON_VALUES, SEGMENT_VALUES, structuralVariants } from './hostile-values.js';

/** The wrong bodies sent where parameters are not read (see RouteSpec.shallow and costly). */
const FEW_BODIES = ['malformed JSON', 'huge body (1.1 MB)', 'JSON with invalid UTF-8'];

export function parseRoute(route: string) {
  const [method, path] = route.split(' ');
  return { method, path };
}

/** What a credential adds to a request: headers, and the values of the placeholders. */
interface Caller {
  headers: Record<string, string>;
  csrf: string;
  uid: string;
  /** The sales project's webhook endpoint and one of its deliveries ($endpoint, $delivery). */
  endpoint: string;
  delivery: string;
}

async function callerFor(auth: Auth, credentials: Credentials): Promise<Caller> {
  const none = { headers: {}, csrf: 'x', uid: 'abc', endpoint: credentials.project.endpointId, delivery: credentials.project.deliveryId };
  switch (auth) {
    case 'none':
    case 'stripe': return none;
    case 'admin': return { ...none, headers: { authorization: `Bearer ${credentials.adminToken}` } };
    case 'bearer': return { ...none, headers: { authorization: `Bearer ${credentials.billingToken}` } };
    case 'client': return { ...none, headers: { authorization: credentials.salesBasic } };
    case 'device-client': return { ...none, headers: { authorization: credentials.deviceBasic } };
    case 'project': return { ...none, headers: { authorization: `Bearer ${credentials.project.token}` } };
    case 'session': return { ...none, headers: { cookie: credentials.session.cookie }, csrf: credentials.session.csrf };
    case 'interaction': {
      const interaction = await credentials.interaction();
      return { ...none, headers: { cookie: interaction.cookie }, csrf: interaction.csrf, uid: interaction.uid };
    }
  }
}

/** Placeholders of a baseline value, resolved anew for each request. */
function resolve(value: unknown, caller: Caller): unknown {
  if (typeof value !== 'string') return value;
  switch (value) {
    case '$csrf': return caller.csrf;
    case '$uid': return caller.uid;
    case '$endpoint': return caller.endpoint;
    case '$delivery': return caller.delivery;
    case '$email': return `h-${randomBytes(6).toString('hex')}@example.com`;
    case '$evt': return `evt_hostile_${randomBytes(8).toString('hex')}`;
    case '$now': return String(Math.floor(Date.now() / 1000));
    default: return value;
  }
}

function resolveAll(params: Record<string, unknown>, caller: Caller) {
  const resolved = Object.fromEntries(Object.entries(params).map(([name, value]) => [name, resolve(value, caller)]));
  // A Stripe event carries its time as a number.
  if (typeof resolved.created === 'string' && /^\d+$/.test(resolved.created)) resolved.created = Number(resolved.created);
  return resolved;
}

const stringsOnly = (params: Record<string, unknown>) => Object.fromEntries(Object.entries(params).map(([name, value]) => [name, String(value)]));

function fillPath(path: string, segments: Record<string, string>) {
  return path.replace(/:(\w+)|\{\*(\w+)\}/g, (_, name: string | undefined, rest: string | undefined) => segments[(name ?? rest)!] ?? 'x');
}

export async function requestsFor(spec: RouteSpec, credentials: Credentials): Promise<HostileRequest[]> {
  const { method: declared, path } = parseRoute(spec.route);
  // A catch-all is exercised with the methods a client would plausibly send.
  const methods = declared === 'ALL' ? ['GET', 'POST'] : [declared];
  const requests: HostileRequest[] = [];
  for (const auth of [...spec.auth, ...(spec.shallow ?? [])]) {
    const deep = spec.auth.includes(auth) && !spec.costly;
    const caller = await callerFor(auth, credentials);
    const segments = Object.fromEntries(Object.entries(spec.segments ?? {}).map(([name, value]) => [name, encodeURIComponent(String(resolve(value, caller)))]));
    for (const method of methods) {
      const inQuery = !spec.body || method === 'GET' || method === 'HEAD';
      const build = (label: string, options: { query?: string; body?: string | Buffer; contentType?: string; segments?: Record<string, string> } = {}): HostileRequest => {
        const headers: Record<string, string> = { ...caller.headers };
        if (options.contentType) headers['content-type'] = options.contentType;
        if (auth === 'stripe' && options.body !== undefined) headers['stripe-signature'] = credentials.stripeSignature(options.body);
        const query = options.query ? `?${options.query}` : '';
        return { method, path: `${fillPath(path, options.segments ?? segments)}${query}`, headers, body: options.body, label: `${auth}: ${label}` };
      };
      const withParams = (label: string, params: Record<string, unknown>, encodedOverrides?: Record<string, string>, extra = '') => {
        if (inQuery) {
          const query = [encodeForm(stringsOnly(params), encodedOverrides), extra].filter(Boolean).join('&');
          return build(label, { query });
        }
        if (spec.body === 'form') {
          const body = [encodeForm(stringsOnly(params), encodedOverrides), extra].filter(Boolean).join('&');
          return build(label, { body, contentType: 'application/x-www-form-urlencoded' });
        }
        return build(label, { body: JSON.stringify(params), contentType: 'application/json' });
      };

      const baselines = spec.params?.length ? spec.params : [{}];
      for (const [index, baseline] of baselines.entries()) {
        const tag = baselines.length > 1 ? `#${index + 1} ` : '';
        const fresh = () => resolveAll(baseline, caller);
        requests.push(withParams(`${tag}baseline`, fresh()));
        if (!deep) continue;
        for (const name of Object.keys(baseline)) {
          if (inQuery || spec.body === 'form') {
            for (const [kind, encoded] of Object.entries(ENCODED_VALUES)) requests.push(withParams(`${tag}${name} = ${kind}`, fresh(), { [name]: encoded }));
          } else {
            for (const [kind, value] of Object.entries(JSON_VALUES)) requests.push(withParams(`${tag}${name} = ${kind}`, { ...fresh(), [name]: value }));
          }
        }
        if (inQuery || spec.body === 'form') {
          for (const [kind, extra] of Object.entries(structuralVariants(Object.keys(baseline)))) requests.push(withParams(`${tag}${kind}`, fresh(), undefined, extra));
        } else {
          requests.push(withParams(`${tag}missing every field`, {}));
        }
      }
      for (const name of deep ? Object.keys(spec.segments ?? {}) : []) {
        for (const [kind, encoded] of Object.entries(SEGMENT_VALUES)) requests.push(build(`:${name} = ${kind}`, { segments: { ...segments, [name]: encoded } }));
      }
      if (method !== 'GET' && method !== 'HEAD') {
        const bodies = Object.entries(BODY_VARIANTS).filter(([kind]) => deep || FEW_BODIES.includes(kind));
        for (const [kind, { contentType, body }] of bodies) requests.push(build(`body: ${kind}`, { body, contentType }));
      }
    }
  }
  return requests;
}
