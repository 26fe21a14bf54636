// verifyWebhook against the independent `standardwebhooks` library: what its Webhook#sign signs
// verifies here, and what it refuses (tampering, old or future timestamps, a wrong secret) is
// refused here too, with a code that says which check failed. Garbage headers — NUL bytes,
// megabytes, repeats — are refused without crashing.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { verifyWebhook, WebhookVerificationError, type WebhookErrorCode, type WebhookHeaders } from '@nexus/auth';
import { closeServer } from '../support/process.js';

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;
const SECRET = newSecret();
const EVENT = { id: randomUUID(), type: 'deal.won', source: 'sales', subject: randomUUID(), data: { dealId: 'd-1', value: 1200, note: 'zürich ✓' }, sequence: 7 };
const BODY = JSON.stringify(EVENT);

/** A delivery as the reference library signs it: its headers, for `body` at `date`. */
function delivery(body: string | Buffer = BODY, { secret = SECRET, date = new Date(), id = `msg_${randomBytes(8).toString('hex')}` } = {}) {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(date.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, date, body),
  };
}

/** Ours refuses with `code`, and the reference library refuses the same delivery. */
function expectRefused(headers: Record<string, string>, body: string | Buffer, code: WebhookErrorCode, secret = SECRET) {
  expect(() => new Webhook(secret).verify(body, headers)).toThrow();
  expectOursRefuses(headers, body, code, secret);
}

function expectOursRefuses(headers: WebhookHeaders, body: string | Buffer, code: WebhookErrorCode, secret = SECRET) {
  let caught: unknown;
  try {
    verifyWebhook(headers, body, secret);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(WebhookVerificationError);
  const error = caught as WebhookVerificationError;
  expect(error.code, error.message).toBe(code);
  expect(error.status).toBe(400);
  expect(error.toJSON()).toEqual({ error: code, error_description: error.message });
}

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000);

describe('verifyWebhook: deliveries signed by standardwebhooks', () => {
  it('verifies a string or Buffer body and returns the parsed event', () => {
    expect(verifyWebhook(delivery(), BODY, SECRET)).toEqual(EVENT);
    const buffer = Buffer.from(BODY);
    expect(verifyWebhook(delivery(buffer), buffer, SECRET)).toEqual(EVENT);
    expect(verifyWebhook(delivery(), new Uint8Array(buffer), SECRET)).toEqual(EVENT);
    // The library verifies the same deliveries: the two agree on what a signature is.
    const headers = delivery();
    expect(new Webhook(SECRET).verify(BODY, headers)).toEqual(verifyWebhook(headers, BODY, SECRET));
  });

  it('finds the headers whatever their case, in a plain object or a fetch Headers', () => {
    const headers = delivery();
    const shouting = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toUpperCase(), value]));
    expect(verifyWebhook(shouting, BODY, SECRET)).toEqual(EVENT);
    const mixed = { 'Webhook-Id': headers['webhook-id'], 'Webhook-Timestamp': headers['webhook-timestamp'], 'Webhook-Signature': headers['webhook-signature'] };
    expect(verifyWebhook(mixed, BODY, SECRET)).toEqual(EVENT);
    expect(verifyWebhook(new Headers(mixed), BODY, SECRET)).toEqual(EVENT);
  });

  it('accepts the secret without its whsec_ prefix, as the library does', () => {
    expect(verifyWebhook(delivery(), BODY, SECRET.slice('whsec_'.length))).toEqual(EVENT);
  });

  it('during a secret rotation, either of two signatures is enough, in either order', () => {
    const previous = newSecret();
    const date = new Date();
    const id = 'msg_rotation';
    const both = [new Webhook(SECRET).sign(id, date, BODY), new Webhook(previous).sign(id, date, BODY)];
    for (const signatures of [both, [...both].reverse()]) {
      const headers = { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(date.getTime() / 1000)), 'webhook-signature': signatures.join(' ') };
      expect(verifyWebhook(headers, BODY, SECRET)).toEqual(EVENT);
      expect(verifyWebhook(headers, BODY, previous)).toEqual(EVENT);
      expectRefused(headers, BODY, 'no_matching_signature', newSecret());
    }
    // An invalid signature beside a valid one, and versions this SDK does not know, are skipped.
    const valid = delivery();
    const crowded = { ...valid, 'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')} v1a,c2lnbmF0dXJl v2,x ${valid['webhook-signature']}` };
    expect(verifyWebhook(crowded, BODY, SECRET)).toEqual(EVENT);
  });

  it('honours the tolerance: 5 minutes by default, configurable', () => {
    expect(verifyWebhook(delivery(BODY, { date: minutesAgo(4) }), BODY, SECRET)).toEqual(EVENT);
    expect(verifyWebhook(delivery(BODY, { date: minutesAgo(-4) }), BODY, SECRET)).toEqual(EVENT);
    const tenMinutesOld = delivery(BODY, { date: minutesAgo(10) });
    expect(verifyWebhook(tenMinutesOld, BODY, SECRET, { toleranceSeconds: 15 * 60 })).toEqual(EVENT);
    expect(() => verifyWebhook(delivery(BODY, { date: minutesAgo(2) }), BODY, SECRET, { toleranceSeconds: 60 })).toThrow(/more than the 60 s allowed/);
  });

  it('verifies what arrives through a real HTTP server: IncomingHttpHeaders and the raw Buffer', async () => {
    const received: unknown[] = [];
    const server = http.createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      try {
        received.push(verifyWebhook(req.headers, Buffer.concat(chunks), SECRET));
        res.writeHead(204).end();
      } catch (error) {
        const refusal = error as WebhookVerificationError;
        res.writeHead(refusal.status ?? 500, { 'content-type': 'application/json' }).end(JSON.stringify(refusal));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    try {
      const ok = await fetch(url, { method: 'POST', headers: { ...delivery(), 'content-type': 'application/json' }, body: BODY });
      expect(ok.status).toBe(204);
      const tampered = await fetch(url, { method: 'POST', headers: delivery(), body: BODY.replace('1200', '9999') });
      expect(tampered.status).toBe(400);
      expect(await tampered.json()).toMatchObject({ error: 'no_matching_signature' });
      expect(received).toEqual([EVENT]);
    } finally {
      await closeServer(server);
    }
  });
});

describe('verifyWebhook: refusals', () => {
  it('tampered body, id or timestamp: no matching signature', () => {
    const headers = delivery();
    expectRefused(headers, BODY.replace('1200', '1201'), 'no_matching_signature');
    expectRefused(headers, `${BODY} `, 'no_matching_signature');
    expectRefused({ ...headers, 'webhook-id': `${headers['webhook-id']}x` }, BODY, 'no_matching_signature');
    expectRefused({ ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) }, BODY, 'no_matching_signature');
  });

  it('a wrong secret: no matching signature', () => {
    expectRefused(delivery(), BODY, 'no_matching_signature', newSecret());
  });

  it('too old or too new', () => {
    expectRefused(delivery(BODY, { date: minutesAgo(6) }), BODY, 'timestamp_too_old');
    expectRefused(delivery(BODY, { date: minutesAgo(60 * 24 * 365) }), BODY, 'timestamp_too_old');
    expectRefused(delivery(BODY, { date: minutesAgo(-6) }), BODY, 'timestamp_too_new');
  });

  it('missing or empty headers', () => {
    const headers = delivery();
    for (const name of Object.keys(headers) as Array<keyof typeof headers>) {
      const { [name]: _, ...without } = headers;
      expectRefused(without, BODY, 'missing_header');
      expectRefused({ ...headers, [name]: '' }, BODY, 'missing_header');
    }
    expectOursRefuses({}, BODY, 'missing_header');
    expectOursRefuses(new Headers(), BODY, 'missing_header');
  });

  it('timestamps that are not Unix seconds', () => {
    const headers = delivery();
    const seconds = headers['webhook-timestamp'];
    for (const timestamp of ['soon', `${seconds}.5`, `${seconds}abc`, `-${seconds}`, ' 1', '1e9', '0x10', '9'.repeat(1000), `${seconds}\u0000`]) {
      expectOursRefuses({ ...headers, 'webhook-timestamp': timestamp }, BODY, 'invalid_timestamp');
    }
    // "1700000000abc" passes the library's parseInt; here it is not a timestamp at all.
    expectOursRefuses({ ...headers, 'webhook-timestamp': `${seconds}abc` }, BODY, 'invalid_timestamp');
  });

  it('garbage signatures: NUL bytes, megabytes, thousands of entries, malformed entries', () => {
    const headers = delivery();
    const [, valid] = headers['webhook-signature'].split(',');
    for (const signature of [
      'v1', 'v1,', ',', ' ', 'v1 ,x', `v2,${valid}`, `V1,${valid}`, `v1,${valid}\u0000`, `\u0000v1,${valid}`, `v1,${valid.slice(0, -1)}`,
      `v1,${'A'.repeat(1 << 20)}`, Array.from({ length: 10_000 }, () => `v1,${randomBytes(32).toString('base64')}`).join(' '),
      `v1,${Buffer.from(valid, 'base64').toString('hex')}`, 'v1,,,,', '\u0000'.repeat(1000),
    ]) {
      expectOursRefuses({ ...headers, 'webhook-signature': signature }, BODY, 'no_matching_signature');
    }
    expectOursRefuses({ ...headers, 'webhook-id': `${headers['webhook-id']}\u0000` }, BODY, 'no_matching_signature');
    expectOursRefuses({ ...headers, 'webhook-id': 'x'.repeat(1 << 20) }, BODY, 'no_matching_signature');
  });

  it('repeated headers: two ids or timestamps are refused; repeated signatures are one list', () => {
    const headers = delivery();
    const other = delivery();
    expectOursRefuses({ ...headers, 'webhook-id': [headers['webhook-id'], other['webhook-id']] }, BODY, 'repeated_header');
    expectOursRefuses({ ...headers, 'webhook-timestamp': [headers['webhook-timestamp'], headers['webhook-timestamp']] }, BODY, 'repeated_header');
    expectOursRefuses({ ...headers, 'Webhook-Id': other['webhook-id'] }, BODY, 'repeated_header');
    // Node joins a repeated header with ", " in IncomingHttpHeaders; fetch's Headers does too.
    const joined = new Headers(headers);
    joined.append('webhook-id', other['webhook-id']);
    expectOursRefuses(joined, BODY, 'no_matching_signature');
    const signatures = new Headers(headers);
    signatures.set('webhook-signature', other['webhook-signature']);
    signatures.append('webhook-signature', headers['webhook-signature']);
    expect(verifyWebhook(signatures, BODY, SECRET)).toEqual(EVENT);
    expect(verifyWebhook({ ...headers, 'webhook-signature': [other['webhook-signature'], headers['webhook-signature']] }, BODY, SECRET)).toEqual(EVENT);
  });

  it('a signed body that is not JSON (or not UTF-8) is refused after the signature passed', () => {
    expectOursRefuses(delivery('not json'), 'not json', 'invalid_payload');
    const latin1 = Buffer.from('{"name":"Z\xfcrich"}', 'latin1');
    const headers = { 'webhook-id': 'msg_latin1', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)) };
    // The library decodes a Buffer as UTF-8 before signing, so it cannot sign these bytes: the hub's HMAC over the raw bytes, by hand.
    const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
    const mac = createHmac('sha256', key).update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.`).update(latin1).digest('base64');
    expectOursRefuses({ ...headers, 'webhook-signature': `v1,${mac}` }, latin1, 'invalid_payload');
  });

  it('a secret that is not whsec_<base64>, or a body already parsed, is a programming error (TypeError)', () => {
    for (const secret of ['', 'whsec_', 'whsec_not base64!', 'whsec_abc', undefined as unknown as string]) {
      expect(() => verifyWebhook(delivery(), BODY, secret)).toThrow(TypeError);
    }
    expect(() => verifyWebhook(delivery(), EVENT as unknown as string, SECRET)).toThrow(/raw request body/);
  });

  it('random one-character changes to a valid delivery are refused by both', () => {
    const alphabet = 'ABCxyz019+/=,. v\u0000';
    for (let round = 0; round < 300; round++) {
      const headers: Record<string, string> = delivery();
      let body = BODY;
      const target = (['webhook-id', 'webhook-signature', 'body'] as const)[round % 3];
      const mutate = (text: string) => {
        const at = Math.floor(Math.random() * text.length);
        let replacement = alphabet[Math.floor(Math.random() * alphabet.length)];
        if (replacement === text[at]) replacement = replacement === 'A' ? 'B' : 'A';
        return text.slice(0, at) + replacement + text.slice(at + 1);
      };
      if (target === 'body') body = mutate(body);
      else headers[target] = mutate(headers[target]);
      expect(() => new Webhook(SECRET).verify(body, headers)).toThrow();
      expect(() => verifyWebhook(headers, body, SECRET)).toThrow(WebhookVerificationError);
    }
  });
});
