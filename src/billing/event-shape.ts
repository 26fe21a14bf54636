// The parts of a Stripe event the webhook handler reads, checked before anything is stored.
// A validly signed event can still carry shapes the handler does not expect (another API
// version, a hand-made test event): those are recorded and answered 200, never a 500 that
// Stripe would retry forever. Only fields the handler uses are checked.
type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
// Stripe ids and event types: printable ASCII, bounded (they become text keys in PostgreSQL).
const isToken = (value: unknown): value is string => typeof value === 'string' && /^[\x21-\x7e]{1,255}$/.test(value);
const isEpoch = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value < 1e11;
const optional = (value: unknown, check: (value: unknown) => boolean) => value === undefined || value === null || check(value);
/** A reference to another Stripe object: its id, or the expanded object. */
const isReference = (value: unknown) => optional(value, (v) => isToken(v) || (isObject(v) && isToken(v.id)));

/** The event types the handler applies (others are recorded as ignored, whatever they carry). */
export const HANDLED_TYPES: ReadonlySet<string> = new Set([
  'checkout.session.completed', 'customer.subscription.created', 'customer.subscription.updated', 'customer.subscription.deleted',
  'invoice.paid', 'invoice.payment_failed',
]);

/** The envelope: what is needed to record the event at all. */
export function envelopeProblem(event: unknown): string | undefined {
  if (!isObject(event)) return 'the event is not an object';
  if (!isToken(event.id)) return 'id is missing or not a Stripe id';
  if (!isToken(event.type)) return 'type is missing or not a Stripe event type';
  if (!isEpoch(event.created)) return 'created is not a Unix time';
  return undefined;
}

export function subscriptionProblem(subscription: unknown): string | undefined {
  if (!isObject(subscription)) return 'the subscription is not an object';
  if (!isToken(subscription.id) || typeof subscription.status !== 'string' || !isReference(subscription.customer)) return 'subscription id, status or customer is malformed';
  if (!optional(subscription.current_period_end, isEpoch)) return 'current_period_end is not a Unix time';
  const items = subscription.items;
  if (!isObject(items) || !Array.isArray(items.data)) return 'items.data is not a list';
  for (const item of items.data) {
    if (!isObject(item) || !isObject(item.price) || !isToken(item.price.id)) return 'an item has no price id';
    if (!optional(item.current_period_end, isEpoch)) return 'an item\'s current_period_end is not a Unix time';
    if (!optional(item.quantity, (q) => typeof q === 'number' && Number.isFinite(q))) return 'an item\'s quantity is not a number';
    if (!optional(item.price.unit_amount, (a) => typeof a === 'number' && Number.isFinite(a))) return 'a price\'s unit_amount is not a number';
    const recurring = item.price.recurring;
    if (!optional(recurring, (r) => isObject(r) && typeof r.interval === 'string' && optional(r.interval_count, (n) => typeof n === 'number' && Number.isFinite(n)))) return 'a price\'s recurring is malformed';
  }
  return undefined;
}

// A user id that is a string but no UUID is a customer no Nexus user has (the handler says
// unknown_customer); only a non-string is malformed.
function checkoutSessionProblem(session: Json): string | undefined {
  if (!optional(session.client_reference_id, (v) => typeof v === 'string')) return 'client_reference_id is not a string';
  if (!optional(session.metadata, isObject)) return 'metadata is not an object';
  const userId = isObject(session.metadata) ? session.metadata.nexus_user_id : undefined;
  if (!optional(userId, (v) => typeof v === 'string')) return 'metadata.nexus_user_id is not a string';
  if (!isReference(session.customer) || !isReference(session.subscription)) return 'customer or subscription is malformed';
  return undefined;
}

function invoiceProblem(invoice: Json): string | undefined {
  if (!isReference(invoice.customer)) return 'customer is malformed';
  if (invoice.lines === undefined || invoice.lines === null) return undefined;
  if (!isObject(invoice.lines) || !optional(invoice.lines.data, Array.isArray)) return 'lines is malformed';
  const first = Array.isArray(invoice.lines.data) ? invoice.lines.data[0] : undefined;
  if (!optional(first, isObject)) return 'a line is not an object';
  const period = isObject(first) ? first.period : undefined;
  if (!optional(period, (p) => isObject(p) && optional(p.end, isEpoch))) return 'a line\'s period is malformed';
  return undefined;
}

/** What is wrong with the object of an event of a type the handler applies; undefined when usable. */
export function payloadProblem(type: string, data: unknown): string | undefined {
  if (!HANDLED_TYPES.has(type)) return undefined;
  if (!isObject(data) || !isObject(data.object)) return 'data.object is missing';
  const object = data.object;
  if (type === 'checkout.session.completed') return checkoutSessionProblem(object);
  if (type.startsWith('invoice.')) return invoiceProblem(object);
  return subscriptionProblem(object);
}
