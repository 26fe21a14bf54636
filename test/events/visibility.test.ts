// Who sees what (issue 11): a project's endpoint receives its own events; the hub's events about
// users who may access the project (every user of an open project; of a `granted` project only
// those with a project_access row), and the hub's events about no user only when they name the
// project; another project's events only of the types that project `publishes`, and only about
// users the receiving project admits; an administrators' endpoint receives everything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProjectAccess } from '../../src/accounts/access.js';
import { startTestHub, type TestHub } from '../support/hub.js';
import { addEndpoint, emit, eventually, projectToken, Receiver, sleep } from './support.js';

let hub: TestHub;
const receivers: Receiver[] = [];
let alice: string; // may access every project below
let bob: string; // has no project_access row anywhere

interface Project {
  id: string;
  token: string;
  receiver: Receiver;
  secret: string;
}

async function project(id: string, definition: Record<string, unknown>): Promise<Project> {
  const { secret: clientSecret } = await hub.hub.clients.add({
    id, name: id, redirectUris: [], postLogoutRedirectUris: [], grantTypes: ['client_credentials'], public: false, scopes: [], ...definition,
  });
  const token = await projectToken(hub.url, id, clientSecret!);
  const receiver = await Receiver.start();
  receivers.push(receiver);
  const { secret } = await addEndpoint(hub.url, token, receiver.url, ['*']);
  return { id, token, receiver, secret };
}

/**
 * What a project's receiver got of the events tagged `tag` (the hub's own identity events, such
 * as those of the grants made here, are left out): "source type subject" lines, sorted.
 */
function seen(p: { receiver: Receiver; secret: string }, tag: string) {
  return p.receiver.verified(p.secret).filter((e) => (e.data as { tag?: string }).tag === tag)
    .map((e) => `${e.source} ${e.type} ${e.subject === alice ? 'alice' : e.subject === bob ? 'bob' : '-'}`).sort();
}

async function quiet() {
  await eventually(async () => {
    // Every receiver here answers 2xx at once: nothing waits for a retry.
    expect(await hub.hub.bus.deliveries.depth()).toBe(0);
  }, 15_000, 100);
  await sleep(200);
}

let crm: Project; // publishes deal.won
let openRx: Project; // open: admits every user
let grantedRx: Project; // granted: admits alice only
let admins: { receiver: Receiver; secret: string };

beforeAll(async () => {
  hub = await startTestHub({ WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '1s' });
  alice = (await hub.hub.users.create({ email: 'alice@example.com', password: 'correct horse battery' })).id;
  bob = (await hub.hub.users.create({ email: 'bob@example.com', password: 'correct horse battery' })).id;
  crm = await project('crm', { access: 'open', publishes: ['deal.won'] });
  openRx = await project('open-rx', { access: 'open' });
  grantedRx = await project('granted-rx', { access: 'granted' });
  await new ProjectAccess(hub.hub.db.prisma).grant(alice, 'granted-rx', 'user');
  const adminReceiver = await Receiver.start();
  receivers.push(adminReceiver);
  const { secret } = await hub.hub.bus.endpoints.add({ project: null, url: adminReceiver.url, eventTypes: ['*'] });
  admins = { receiver: adminReceiver, secret };
});
afterAll(async () => {
  await hub?.stop();
  await Promise.all(receivers.map((r) => r.close()));
});

describe('visibility between projects', () => {
  it('routes every kind of event to exactly the endpoints that may see it', async () => {
    const data = { tag: 'routing' };
    // The hub's identity events, about each user and about no user.
    await hub.hub.bus.emit('nexus', null, [
      { type: 'user.updated', subject: alice, data },
      { type: 'user.updated', subject: bob, data },
      { type: 'client.updated', data: { ...data, project: 'granted-rx' } },
      { type: 'client.updated', data },
    ]);
    // crm: a published type about each user and about no user, and an unpublished one.
    await emit(hub.url, crm.token, [
      { type: 'deal.won', subject: alice, data },
      { type: 'deal.won', subject: bob, data },
      { type: 'deal.won', data },
      { type: 'deal.lost', subject: alice, data },
    ]);
    // A receiving project's own events: all of them, whoever they are about.
    await emit(hub.url, grantedRx.token, [{ type: 'note.added', subject: bob, data }, { type: 'note.added', data }]);
    await emit(hub.url, openRx.token, { type: 'note.added', subject: alice, data });
    await quiet();

    expect(seen(crm, 'routing')).toEqual([
      'crm deal.lost alice', 'crm deal.won -', 'crm deal.won alice', 'crm deal.won bob',
      'nexus user.updated alice', 'nexus user.updated bob',
    ]);
    expect(seen(openRx, 'routing')).toEqual([
      'crm deal.won alice', 'crm deal.won bob',
      'nexus user.updated alice', 'nexus user.updated bob',
      'open-rx note.added alice',
    ]);
    expect(seen(grantedRx, 'routing')).toEqual([
      'crm deal.won alice',
      'granted-rx note.added -', 'granted-rx note.added bob',
      'nexus client.updated -', 'nexus user.updated alice',
    ]);
    expect(seen(admins, 'routing')).toHaveLength(4 + 4 + 2 + 1);
  });

  it('decides at publish time: a grant admits the user\'s later events, a revocation stops them', async () => {
    const access = new ProjectAccess(hub.hub.db.prisma);
    await access.grant(bob, 'granted-rx', 'user');
    await hub.hub.bus.emit('nexus', null, [{ type: 'user.updated', subject: bob, data: { tag: 'grant', n: 1 } }]);
    await emit(hub.url, crm.token, { type: 'deal.won', subject: bob, data: { tag: 'grant', n: 2 } });
    await access.revoke(bob, 'granted-rx');
    await hub.hub.bus.emit('nexus', null, [{ type: 'user.updated', subject: bob, data: { tag: 'grant', n: 3 } }]);
    await emit(hub.url, crm.token, { type: 'deal.won', subject: bob, data: { tag: 'grant', n: 4 } });
    await quiet();
    expect(seen(grantedRx, 'grant')).toEqual(['crm deal.won bob', 'nexus user.updated bob']);
    expect(seen(openRx, 'grant')).toHaveLength(4);
  });

  it('delivers a session\'s end only to the project it names (its sid is that project\'s), and to administrators', async () => {
    await hub.hub.bus.emit('nexus', null, [{ type: 'session.ended', subject: alice, data: { tag: 'ended', project: 'open-rx', sid: 'sid-of-open-rx' } }]);
    await quiet();
    expect(seen(openRx, 'ended')).toEqual(['nexus session.ended alice']);
    expect(seen(grantedRx, 'ended')).toEqual([]); // admits alice, but the sid is not its own
    expect(seen(crm, 'ended')).toEqual([]);
    expect(seen(admins, 'ended')).toEqual(['nexus session.ended alice']);
  });

  it('reads publishes from the registry as it is when the event is stored', async () => {
    await emit(hub.url, crm.token, { type: 'deal.lost', subject: alice, data: { tag: 'publishes', n: 1 } });
    await hub.hub.clients.update('crm', { publishes: ['deal.won', 'deal.lost'] });
    await emit(hub.url, crm.token, { type: 'deal.lost', subject: alice, data: { tag: 'publishes', n: 2 } });
    await quiet();
    expect(openRx.receiver.verified(openRx.secret).filter((e) => (e.data as { tag?: string }).tag === 'publishes').map((e) => e.data)).toEqual([{ tag: 'publishes', n: 2 }]);
  });
});
