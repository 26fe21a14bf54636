// `nexus clients sync --file` refuses a clients file it cannot use, saying why in one line, and
// changes nothing: a missing file, one that is not JSON, one without a "clients" list, and one
// with a project listed twice next to an invalid one.
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { expectFailure, nexus } from '../cli/support.js';

let t: TestHub;
let before: string[];
beforeAll(async () => {
  t = await startTestHub();
  before = (await t.hub.clients.list()).map((client) => client.id).sort();
});
afterAll(() => t?.stop());

async function file(name: string, content: string) {
  const target = path.join(t.dataDir, name);
  await fs.writeFile(target, content);
  return target;
}

const project = (id: string) => ({ id, name: `Project ${id}`, redirectUris: [`https://${id}.example/cb`], audience: `urn:nexus:${id}` });

describe('nexus clients sync with an unusable file', () => {
  it('refuses each one with its reason and registers nothing', async () => {
    const missing = path.join(t.dataDir, 'nowhere.json');
    expectFailure(await nexus(t, 'clients', 'sync', '--file', missing), 1, `cannot read ${missing}: file not found`);

    const broken = await file('broken.json', '{"clients": [');
    expectFailure(await nexus(t, 'clients', 'sync', '--file', broken), 1, new RegExp(`^cannot read ${broken.replaceAll('.', '\\.')}: .*JSON`));

    const noList = await file('no-list.json', JSON.stringify({ projects: [project('atlas')] }));
    expectFailure(await nexus(t, 'clients', 'sync', '--file', noList), 1, `${noList} must be {"clients": [...]}`);

    const twice = await file('twice.json', JSON.stringify({ clients: [project('atlas'), project('atlas'), { id: 'Bad Id', name: 'Bad' }] }));
    const result = await nexus(t, 'clients', 'sync', '--file', twice);
    expectFailure(result, 1, 'client "atlas" is listed twice');
    expect(result.stderr).toContain('"Bad Id"'); // the invalid entry is reported in the same line

    expect((await t.hub.clients.list()).map((client) => client.id).sort()).toEqual(before);
  });
});
