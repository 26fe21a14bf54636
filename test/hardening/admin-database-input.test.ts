// Input PostgreSQL cannot take (a NUL byte, invalid UTF-8, a malformed UUID) is a bad request,
// never a 500 (issue 8, "Never a 500"): the admin API refuses control characters in paths and
// query strings before any lookup, and the error handler maps the database's input errors to
// 400 invalid_request for whatever reaches the database anyway.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { adminApi, adminToken } from '../support/admin-token.js';
import { databaseInputErrorCode } from '../../src/http/database-input-errors.js';

let t: TestHub;
let token: string;
beforeAll(async () => {
  t = await startTestHub();
  token = await adminToken(t);
});
afterAll(() => t?.stop());

/** A raw request: the path is sent as written (percent-escapes and all). */
async function raw(method: string, path: string, body?: string) {
  const response = await fetch(`${t.url}/api/admin${path}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body,
  });
  return { status: response.status, body: await response.json() as Record<string, string> };
}

describe('the admin API with NUL bytes and invalid UTF-8', () => {
  it.each([
    ['GET', '/users/a%00b'], ['GET', '/users?search=a%00b'], ['GET', '/access?project=a%00b'], ['GET', '/access?email=a%00b'],
    ['GET', '/apikeys?email=a%00b'], ['GET', '/clients/a%00b'], ['PATCH', '/clients/a%00b'], ['POST', '/keys/a%00b/retire'],
    ['POST', '/apikeys/a%00b/revoke'], ['PUT', '/users/a%00b/plan'], ['GET', '/users/%FF%FE'], ['GET', '/users?search=a&search=%00'],
  ])('%s %s: 400 invalid_request before any lookup', async (method, path) => {
    const answer = await raw(method, path, method === 'GET' ? undefined : '{}');
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_request');
  });

  it('refuses NUL in JSON fields (400), also where the whole body goes to the database (the handler\'s mapping)', async () => {
    const nul = (json: string) => json.replace(/NUL/g, '\\u0000');
    expect(await raw('POST', '/users', nul('{"email":"aNUL@b.example"}'))).toMatchObject({ status: 400 });
    expect(await raw('POST', '/access', nul('{"email":"root@example.com","project":"salesNUL","role":"user"}'))).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    // Client definitions are validated as a whole and stored as JSON: PostgreSQL refuses \u0000 there.
    expect(await raw('POST', '/clients', nul('{"id":"nul-name","name":"aNULb","redirectUris":["https://a.example/cb"]}'))).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await raw('PATCH', '/clients/sales', nul('{"name":"SalesNUL"}'))).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    // A lone UTF-16 surrogate: Prisma's query engine refuses it before PostgreSQL sees it.
    expect(await raw('PATCH', '/clients/sales', '{"name":"Sales\\ud800"}')).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await raw('POST', '/access', '{"email":"root@example.com","project":"\\ud800","role":"user"}')).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    // Nothing was stored.
    expect((await adminApi(t, token, 'GET', '/clients/sales')).body.name).toBe('Nexus Sales CRM');
    expect((await adminApi(t, token, 'GET', '/clients/nul-name')).status).toBe(404);
  });
});

describe('which database errors count as input errors', () => {
  const failure = (promise: Promise<unknown>) => promise.then(() => { throw new Error('expected the database to refuse'); }, (error: unknown) => error);

  it('recognises what pg and Prisma really raise for NUL bytes, bad UUIDs and \\u0000 in JSON', async () => {
    const { pool, prisma } = t.hub.db;
    expect(databaseInputErrorCode(await failure(pool.query('SELECT $1::text', ['a\u0000b'])))).toBe('22021');
    expect(databaseInputErrorCode(await failure(pool.query('SELECT $1::uuid', ['not-a-uuid'])))).toBe('22P02');
    expect(databaseInputErrorCode(await failure(pool.query('SELECT $1::jsonb', ['{"a":"\\u0000"}'])))).toBe('22P05');
    expect(databaseInputErrorCode(await failure(prisma.user.findUnique({ where: { email: 'a\u0000b' } })))).toBeDefined();
    expect(databaseInputErrorCode(await failure(prisma.user.findUnique({ where: { id: 'not-a-uuid' } })))).toBeDefined();
    expect(databaseInputErrorCode(await failure(prisma.event.create({ data: { type: 't', data: { a: 'x\u0000' } } })))).toBeDefined();
    expect(databaseInputErrorCode(await failure(prisma.user.findUnique({ where: { email: 'a\ud800b' } })))).toBeDefined();
  });

  it('does not take server faults for input errors', async () => {
    const { pool, prisma } = t.hub.db;
    expect(databaseInputErrorCode(await failure(pool.query('SELECT * FROM no_such_table')))).toBeUndefined();
    expect(databaseInputErrorCode(await failure(pool.query('SELEC 1')))).toBeUndefined();
    const user = await t.hub.users.create({ email: 'dup@example.com' });
    expect(databaseInputErrorCode(await failure(prisma.user.create({ data: { id: user.id, email: 'dup2@example.com' } })))).toBeUndefined();
    expect(databaseInputErrorCode(new TypeError('Cannot read properties of undefined'))).toBeUndefined();
    expect(databaseInputErrorCode(Object.assign(new Error('x'), { code: '22021' }))).toBeUndefined();
  });
});
