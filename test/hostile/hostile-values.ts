// Hostile values for every kind of parameter the hub reads, and the request variants built from
// them: each parameter in turn gets each value while the others keep their baseline, so every
// value reaches as deep into a route as valid neighbours let it.

/** Over-long: far beyond every limit the hub sets on a single value. */
export const LONG = 100_000;

/**
 * Values as they go on the wire in a query string or form body (already percent-encoded): NUL,
 * invalid UTF-8, overlong UTF-8, control characters, over-long, look-alikes, path tricks.
 */
export const ENCODED_VALUES: Record<string, string> = {
  empty: '',
  nul: 'a%00b',
  'invalid utf-8': '%FF%FE',
  'overlong utf-8': '%C0%80',
  'lone surrogate': '%ED%A0%80',
  'control characters': '%01%1B%7F',
  'CR LF': 'a%0D%0Ab',
  'multi-byte': '%C4%80%F0%9F%98%80',
  'path traversal': '..%2F..%2Fetc%2Fpasswd%25',
  quotes: '%22%27%3C%3E%60',
  'over-long': 'a'.repeat(LONG),
};

/** The same kinds of value in a JSON body, plus the wrong types a JSON field can hold. */
export const JSON_VALUES: Record<string, unknown> = {
  empty: '',
  nul: 'a\u0000b',
  'control characters': '\u0001\u001b\u007f',
  'lone surrogate': '\ud800',
  'over-long': 'a'.repeat(LONG),
  number: 42,
  'huge number': 1e308,
  negative: -1,
  true: true,
  null: null,
  array: ['a', 'b'],
  'array of NUL': ['\u0000'],
  object: { a: 'b' },
  'operator object': { $gt: '' },
  'deep nesting': JSON.parse(`${'['.repeat(500)}${']'.repeat(500)}`),
};

/** Values of a path segment (percent-encoded). */
export const SEGMENT_VALUES: Record<string, string> = {
  nul: 'a%00b',
  'invalid utf-8': '%FF%FE',
  'overlong utf-8': '%C0%80',
  'encoded slash': 'a%2Fb',
  dots: '..',
  'multi-byte': '%C4%80%F0%9F%98%80',
  'long (4 KB)': 'a'.repeat(4096),
  quotes: '%22%27%3C%3E',
};

/** Whole query strings or form bodies that are hostile in their structure rather than a value. */
export function structuralVariants(fields: string[]): Record<string, string> {
  const first = fields[0] ?? 'x';
  return {
    'repeated parameter': `${first}=a&${first}=b`,
    'bracket array': `${first}[]=a&${first}[]=b`,
    'bracket object': `${first}[a]=b`,
    'prototype pollution': '__proto__[polluted]=1&constructor[prototype][polluted]=1',
    'NUL in a name': `%00=1&${first}%00=1`,
    'invalid utf-8 in a name': '%FF=1',
    'a thousand parameters': Array.from({ length: 1000 }, (_, i) => `p${i}=${i}`).join('&'),
    'no equals sign': `${first}&&&=`,
  };
}

/** Query string or form body with `overrides` (encoded) replacing the baseline (plain) values. */
export function encodeForm(baseline: Record<string, string>, overrides: Record<string, string> = {}): string {
  const pairs = Object.entries(baseline).filter(([name]) => !(name in overrides)).map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
  for (const [name, encoded] of Object.entries(overrides)) pairs.push(`${encodeURIComponent(name)}=${encoded}`);
  return pairs.join('&');
}

/** Bodies of the wrong kind for a route, whatever it expects. */
export const BODY_VARIANTS: Record<string, { contentType: string | undefined; body: string | Buffer }> = {
  'JSON to any route': { contentType: 'application/json', body: '{"a":"b"}' },
  'form to any route': { contentType: 'application/x-www-form-urlencoded', body: 'a=b' },
  'text/plain': { contentType: 'text/plain', body: 'hello' },
  'malformed JSON': { contentType: 'application/json', body: '{"a":' },
  'JSON array': { contentType: 'application/json', body: '[1,2,3]' },
  'JSON scalar': { contentType: 'application/json', body: '"x"' },
  'JSON with invalid UTF-8': { contentType: 'application/json', body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]) },
  // Over every body limit of the hub (the largest, the Stripe webhook's, is 1 MB).
  'huge body (1.1 MB)': { contentType: 'application/x-www-form-urlencoded', body: `a=${'b'.repeat(1_100_000)}` },
  'unknown charset': { contentType: 'application/x-www-form-urlencoded; charset=utf-7', body: 'a=b' },
  'multipart': { contentType: 'multipart/form-data; boundary=x', body: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--\r\n' },
  'no content type': { contentType: undefined, body: 'a=b' },
  'XML': { contentType: 'application/xml', body: '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>' },
};

export const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
