// A fresh database's first start: instances starting together each make sure a signing key and
// a cookie key exist, and exactly one of each is stored. The RSA key is generated outside the
// transaction that holds the creation lock (on a loaded machine, generating it inside took
// longer than the transaction's time limit and the start failed).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/db/database.js';
import { createLogger } from '../src/logger.js';
import { SecretBox } from '../src/secrets/box.js';
import { KeyStore } from '../src/keys/store.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { together } from './support/together.js';

const INSTANCES = 8;
let database: TestDatabase;
const handles: Database[] = [];
const box = new SecretBox(randomBytes(32));

beforeAll(async () => {
  database = await createTestDatabase();
  const open = () => openDatabase({ databaseUrl: database.url, dataDir: '', embeddedPgPort: 0, poolSize: 2 }, createLogger('silent'));
  handles.push(await open()); // migrations first, then instances that find them applied
  for (let i = 1; i < INSTANCES; i++) handles.push(await open());
});
afterAll(async () => {
  await Promise.all(handles.map((db) => db.close()));
  await database?.drop();
});

it('stores one signing key and one cookie key when 8 instances start at once', async () => {
  const stores = handles.map((db) => new KeyStore(db.prisma, box));
  await together(stores.map((store) => () => store.ensure()));

  const keys = await stores[0].list();
  expect(keys.filter((key) => key.use === 'sig')).toHaveLength(1);
  expect(keys.filter((key) => key.use === 'cookie')).toHaveLength(1);
  // Every instance loads the same keys, and the signing key's private part opens.
  const loaded = await Promise.all(stores.map((store) => store.load()));
  for (const one of loaded) {
    expect(one.jwks.keys.map((key) => key.kid)).toEqual([keys.find((key) => key.use === 'sig')!.kid]);
    expect(one.jwks.keys[0].d).toBeTruthy();
    expect(one.cookieKeys).toEqual(loaded[0].cookieKeys);
  }
});

it('adds nothing on a later start, and only the missing key after a retirement', async () => {
  const store = new KeyStore(handles[0].prisma, box);
  const before = await store.list();
  await store.ensure();
  expect(await store.list()).toEqual(before);

  // A database whose only cookie key was retired by hand gets a new one, and no new signing key.
  await handles[0].prisma.key.updateMany({ where: { use: 'cookie' }, data: { retiredAt: new Date() } });
  await together(INSTANCES, (i) => new KeyStore(handles[i].prisma, box).ensure());
  const after = await store.list();
  expect(after.filter((key) => key.use === 'sig')).toEqual(before.filter((key) => key.use === 'sig'));
  expect(after.filter((key) => key.use === 'cookie' && !key.retiredAt)).toHaveLength(1);
});
