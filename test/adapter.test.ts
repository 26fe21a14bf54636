// The oidc-provider adapter contract against real PostgreSQL, and the expiry sweep.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from './support/hub.js';
import { createAdapterFactory, sweepExpired } from '../src/oidc/adapter.js';

let t: TestHub;
let adapterFor: ReturnType<typeof createAdapterFactory>;

beforeAll(async () => {
  t = await startTestHub();
  adapterFor = createAdapterFactory(t.hub.db.prisma, t.hub.clients);
});
afterAll(() => t?.stop());

describe('Prisma adapter', () => {
  it('stores, finds, consumes and destroys a payload', async () => {
    const codes = adapterFor('AuthorizationCode');
    await codes.upsert('code-1', { jti: 'code-1', grantId: 'grant-1', accountId: 'a' }, 60);
    expect(await codes.find('code-1')).toMatchObject({ jti: 'code-1', grantId: 'grant-1' });
    expect((await codes.find('code-1'))?.consumed).toBeUndefined();
    await codes.consume('code-1');
    expect((await codes.find('code-1'))?.consumed).toEqual(expect.any(Number));
    await codes.destroy('code-1');
    expect(await codes.find('code-1')).toBeUndefined();
  });

  it('keeps models apart: the same id in two models is two records', async () => {
    await adapterFor('AccessToken').upsert('same', { jti: 'same', kind: 'AccessToken' }, 60);
    await adapterFor('RefreshToken').upsert('same', { jti: 'same', kind: 'RefreshToken' }, 60);
    expect((await adapterFor('AccessToken').find('same'))?.kind).toBe('AccessToken');
    expect((await adapterFor('RefreshToken').find('same'))?.kind).toBe('RefreshToken');
  });

  it('finds sessions by uid and device codes by user code', async () => {
    await adapterFor('Session').upsert('s-1', { jti: 's-1', uid: 'uid-1', accountId: 'a' }, 60);
    expect(await adapterFor('Session').findByUid('uid-1')).toMatchObject({ jti: 's-1' });
    await adapterFor('DeviceCode').upsert('d-1', { jti: 'd-1', userCode: 'BCDFGHJK' }, 60);
    expect(await adapterFor('DeviceCode').findByUserCode('BCDFGHJK')).toMatchObject({ jti: 'd-1' });
  });

  it('revokes everything issued under a grant', async () => {
    await adapterFor('RefreshToken').upsert('r-9', { jti: 'r-9', grantId: 'grant-9' }, 60);
    await adapterFor('AuthorizationCode').upsert('c-9', { jti: 'c-9', grantId: 'grant-9' }, 60);
    await adapterFor('RefreshToken').upsert('r-10', { jti: 'r-10', grantId: 'grant-10' }, 60);
    await adapterFor('RefreshToken').revokeByGrantId('grant-9');
    expect(await adapterFor('RefreshToken').find('r-9')).toBeUndefined();
    expect(await adapterFor('AuthorizationCode').find('c-9')).toBeUndefined();
    expect(await adapterFor('RefreshToken').find('r-10')).toBeDefined();
  });

  it('ignores expired records and the sweep deletes them', async () => {
    const tokens = adapterFor('RefreshToken');
    await tokens.upsert('old', { jti: 'old' }, 60);
    await t.hub.db.pool.query(`UPDATE oidc_payloads SET expires_at = now() - interval '1 hour' WHERE id = 'old'`);
    expect(await tokens.find('old')).toBeUndefined();
    expect(await sweepExpired(t.hub.db.prisma)).toBeGreaterThanOrEqual(1);
    const { rowCount } = await t.hub.db.pool.query(`SELECT 1 FROM oidc_payloads WHERE id = 'old'`);
    expect(rowCount).toBe(0);
  });

  it('consumes by compare-and-set: of parallel consumers one wins, the others revoke the grant', async () => {
    const codes = adapterFor('AuthorizationCode');
    await adapterFor('Grant').upsert('grant-cas', { jti: 'grant-cas' }, 60);
    await codes.upsert('code-cas', { jti: 'code-cas', grantId: 'grant-cas' }, 60);
    await adapterFor('RefreshToken').upsert('r-cas', { jti: 'r-cas', grantId: 'grant-cas' }, 60);
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => codes.consume('code-cas')));
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    for (const result of results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')) {
      expect(result.reason).toMatchObject({ error: 'invalid_grant' });
    }
    expect(await adapterFor('Grant').find('grant-cas')).toBeUndefined();
    expect(await adapterFor('RefreshToken').find('r-cas')).toBeUndefined();
    await expect(codes.consume('no-such-code')).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('finds nothing for keys with a NUL byte or of absurd length, instead of a database error', async () => {
    for (const key of ['a\u0000b', 'k'.repeat(513)]) {
      expect(await adapterFor('RefreshToken').find(key)).toBeUndefined();
      expect(await adapterFor('DeviceCode').findByUserCode(key)).toBeUndefined();
      expect(await adapterFor('Session').findByUid(key)).toBeUndefined();
      expect(await adapterFor('Client').find(key)).toBeUndefined();
      await adapterFor('RefreshToken').destroy(key);
      await adapterFor('RefreshToken').revokeByGrantId(key);
    }
  });

  it('refuses to store a payload with a NUL character as an invalid request', async () => {
    await expect(adapterFor('Interaction').upsert('i-nul', { jti: 'i-nul', params: { state: 'a\u0000b' } }, 60)).rejects.toMatchObject({ error: 'invalid_request' });
    expect(await adapterFor('Interaction').find('i-nul')).toBeUndefined();
  });

  it('serves clients from the registry, and only enabled ones', async () => {
    const clients = adapterFor('Client');
    expect(await clients.find('sales')).toMatchObject({ client_id: 'sales', token_endpoint_auth_method: 'client_secret_basic', client_secret: t.secrets.sales });
    expect(await clients.find('testing')).toMatchObject({ client_id: 'testing', token_endpoint_auth_method: 'none' });
    expect((await clients.find('testing'))?.client_secret).toBeUndefined();
    await t.hub.clients.setEnabled('shelter', false);
    expect(await clients.find('shelter')).toBeUndefined();
  });
});
