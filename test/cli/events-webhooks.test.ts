// `nexus webhooks ...`, `nexus events list` and `nexus clients --publishes` through real CLI
// processes against a test hub's database. The CLI only records and queues (its bus has no
// worker): the running test hub delivers, to loopback receivers that verify every signature
// with the independent standardwebhooks library.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { startTestHub, type TestHub } from '../support/hub.js';
import { emit, eventually, projectToken, Receiver } from '../events/support.js';
import { expectFailure, expectSuccess, nexus, nexusJson, pool } from './support.js';

let t: TestHub;
let sales: string;
/** Answers 204, or 500 while `failing` is set. */
let flaky: Receiver;
let failing = true;
let steady: Receiver;

beforeAll(async () => {
  t = await startTestHub({ WEBHOOKS_ALLOW_PRIVATE_URLS: 'true', WEBHOOK_RETRY_SCHEDULE: '1s,1s' });
  sales = await projectToken(t.url, 'sales', t.secrets.sales);
  steady = await Receiver.start();
  flaky = await Receiver.start((_req, res) => res.writeHead(failing ? 500 : 204).end(failing ? 'down' : ''));
});
afterAll(async () => {
  await steady?.close();
  await flaky?.close();
  await t?.stop();
});

/** The secret printed by add or rotate-secret: the line after "(shown once, store it now):". */
function printedSecret(stdout: string, id: string): string {
  const lines = stdout.split('\n');
  const index = lines.indexOf(`Signing secret for ${id} (shown once, store it now):`);
  expect(index, stdout).toBeGreaterThanOrEqual(0);
  expect(lines[index + 1]).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  return lines[index + 1];
}

/** Adds an endpoint in text mode; answers its id (from the first line) and secret. */
async function addEndpoint(...flags: string[]) {
  const added = await nexus(t, 'webhooks', 'add', ...flags);
  expectSuccess(added);
  const id = /^Added webhook endpoint ([0-9a-f-]{36}) /.exec(added.stdout)?.[1];
  expect(id, added.stdout).toBeTruthy();
  return { id: id!, secret: printedSecret(added.stdout, id!), stdout: added.stdout };
}

/** The receiver's requests carrying this event id. */
const requestsOf = (receiver: Receiver, eventId: string) => receiver.requests.filter((r) => r.id === eventId);

describe('nexus webhooks', () => {
  it('add prints the secret once; list, show; deliveries verify with standardwebhooks; disable, enable; remove', async () => {
    const { id, secret, stdout } = await addEndpoint('--project', 'sales', '--url', steady.url, '--events', 'deal.won,user.*', '--description', 'CRM sync');
    expect(stdout).toContain(`for sales: deal.won, user.* to ${steady.url}`);

    const [listed, listedJson, otherProject, shown, shownJson] = await pool([
      ['webhooks', 'list'], ['webhooks', 'list', '--project', 'sales', '--json'], ['webhooks', 'list', '--project', 'testing', '--json'],
      ['webhooks', 'show', id], ['webhooks', 'show', id, '--json'],
    ], 3, (args) => nexus(t, ...args));
    for (const result of [listed, listedJson, otherProject, shown, shownJson]) expectSuccess(result);
    expect(listed.stdout.split('\n')[0]).toMatch(/^ID\s+PROJECT\s+URL\s+EVENTS\s+STATUS$/);
    expect(listed.stdout).toMatch(new RegExp(`^${id}\\s+sales\\s+${steady.url}\\s+deal\\.won,user\\.\\*\\s+enabled$`, 'm'));
    expect((JSON.parse(listedJson.stdout) as Array<{ id: string }>).map((e) => e.id)).toContain(id);
    expect(JSON.parse(otherProject.stdout)).toEqual([]);
    expect(shown.stdout).toContain(`id:          ${id}\nproject:     sales\nurl:         ${steady.url}\nevents:      deal.won, user.*\ndescription: CRM sync\nstatus:      enabled`);
    const endpoint = JSON.parse(shownJson.stdout);
    expect(endpoint).toMatchObject({ id, project: 'sales', url: steady.url, eventTypes: ['deal.won', 'user.*'], description: 'CRM sync', enabled: true });
    // The secret is shown once: never by list or show.
    for (const result of [listed, listedJson, shown, shownJson]) expect(result.stdout).not.toContain('whsec_');

    const [won] = await emit(t.url, sales, { type: 'deal.won', data: { dealId: 'cli-1' } });
    await eventually(() => expect(requestsOf(steady, won.id)).toHaveLength(1));
    expect(new Webhook(secret).verify(requestsOf(steady, won.id)[0].body, requestsOf(steady, won.id)[0].headers as Record<string, string>))
      .toMatchObject({ id: won.id, type: 'deal.won', source: 'sales', data: { dealId: 'cli-1' } });

    const disabled = await nexus(t, 'webhooks', 'disable', id);
    expectSuccess(disabled);
    expect(disabled.stdout).toBe(`Disabled webhook endpoint ${id}.\n`);
    expect(await nexusJson(t, 'webhooks', 'show', id)).toMatchObject({ enabled: false, disabledReason: 'disabled by an operator' });
    const [whileDisabled] = await emit(t.url, sales, { type: 'deal.won', data: { dealId: 'cli-2' } });
    // The operator's action is in the log, with the CLI as its actor.
    const log = await nexusJson<Array<Record<string, any>>>(t, 'events', 'list', '--type', 'endpoint.disabled', '--source', 'nexus');
    expect(log[0]).toMatchObject({ type: 'endpoint.disabled', data: { endpointId: id, project: 'sales' }, actor: { type: 'admin', id: 'cli' } });

    const enabled = await nexus(t, 'webhooks', 'enable', id);
    expectSuccess(enabled);
    expect(enabled.stdout).toBe(`Enabled webhook endpoint ${id}.\n`);
    const [afterEnable] = await emit(t.url, sales, { type: 'deal.won', data: { dealId: 'cli-3' } });
    await eventually(() => expect(requestsOf(steady, afterEnable.id)).toHaveLength(1));
    // Nothing was queued for the disabled endpoint: its event is not delivered after enabling.
    expect(requestsOf(steady, whileDisabled.id)).toEqual([]);

    expectFailure(await nexus(t, 'webhooks', 'remove', id), 1, 'refusing without confirmation: add --yes');
    const removed = await nexus(t, 'webhooks', 'remove', id, '--yes');
    expectSuccess(removed);
    expect(removed.stdout).toBe(`Removed webhook endpoint ${id}.\n`);
    expectFailure(await nexus(t, 'webhooks', 'show', id), 1, `no webhook endpoint ${id}`);
  });

  it('rotate-secret prints a new secret; deliveries then carry the old and the new signature', async () => {
    const { id, secret: old } = await addEndpoint('--project', 'sales', '--url', steady.url, '--events', 'deal.lost');
    const rotated = await nexus(t, 'webhooks', 'rotate-secret', id);
    expectSuccess(rotated);
    const fresh = printedSecret(rotated.stdout, id);
    expect(fresh).not.toBe(old);
    const until = /The old secret keeps signing beside it until (\S+)\.$/m.exec(rotated.stdout)?.[1];
    expect(Date.parse(until!) - Date.now()).toBeGreaterThan(23.9 * 3600_000);
    expect((await nexus(t, 'webhooks', 'show', id)).stdout).toContain(`old secret:  still signs beside the new one until ${until}`);

    const [lost] = await emit(t.url, sales, { type: 'deal.lost', data: { dealId: 'rot-1' } });
    await eventually(() => expect(requestsOf(steady, lost.id)).toHaveLength(1));
    const [delivery] = requestsOf(steady, lost.id);
    const signatures = String(delivery.headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(2);
    for (const s of signatures) expect(s).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    // Either secret verifies the same delivery: receivers switch at their own pace.
    for (const secret of [fresh, old]) expect(new Webhook(secret).verify(delivery.body, delivery.headers as Record<string, string>)).toMatchObject({ id: lost.id });
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(delivery.body, delivery.headers as Record<string, string>)).toThrow();
  });

  it('test delivers a webhook.test to that endpoint alone, whatever it subscribes to', async () => {
    const { id, secret } = await addEndpoint('--project', 'testing', '--url', steady.url, '--events', 'audit.completed');
    const tested = await nexus(t, 'webhooks', 'test', id, '--json');
    expectSuccess(tested);
    const event = JSON.parse(tested.stdout) as { id: string };
    await eventually(() => expect(requestsOf(steady, event.id)).toHaveLength(1));
    expect(new Webhook(secret).verify(requestsOf(steady, event.id)[0].body, requestsOf(steady, event.id)[0].headers as Record<string, string>))
      .toMatchObject({ id: event.id, type: 'webhook.test', source: 'nexus', data: { endpointId: id, project: 'testing' }, actor: { type: 'admin', id: 'cli' } });
    const text = await nexus(t, 'webhooks', 'test', id);
    expectSuccess(text);
    expect(text.stdout).toMatch(new RegExp(`^Queued test event [0-9a-f-]{36} for ${id}; see \`nexus webhooks deliveries ${id}\`\\.\n$`));
  });

  it('an administrators\' endpoint (--all) receives every project\'s events', async () => {
    const { id, secret, stdout } = await addEndpoint('--all', '--url', steady.url, '--events', '*');
    expect(stdout).toContain('for (admin: every event): *');
    expect(await nexusJson(t, 'webhooks', 'show', id)).toMatchObject({ project: null });
    const [fromSales] = await emit(t.url, sales, { type: 'lead.created', data: {} });
    await eventually(() => expect(requestsOf(steady, fromSales.id)).toHaveLength(1));
    // One request per endpoint the event reaches; this one is the admin endpoint's (its signature).
    expect(new Webhook(secret).verify(requestsOf(steady, fromSales.id)[0].body, requestsOf(steady, fromSales.id)[0].headers as Record<string, string>)).toMatchObject({ source: 'sales' });
    expectSuccess(await nexus(t, 'webhooks', 'remove', id, '--yes'));
  });

  it('deliveries --failed, replay DELIVERY_ID and replay-failed ID --since', async () => {
    failing = true;
    const { id } = await addEndpoint('--project', 'sales', '--url', flaky.url, '--events', 'deal.refunded');
    const sent = await emit(t.url, sales, [1, 2, 3].map((n) => ({ type: 'deal.refunded', data: { n } })));
    // 1 s, 1 s: three attempts each, then given up on.
    // Waited for at the hub's own queue (cheaper than a CLI process per poll).
    await eventually(async () => expect(await t.hub.bus.deliveries.list({ endpointId: id, status: 'failed' })).toHaveLength(3), 30_000, 200);
    const failed = await nexus(t, 'webhooks', 'deliveries', id, '--failed');
    expectSuccess(failed);
    const lines = failed.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+EVENT\s+STATUS\s+ATTEMPTS\s+HTTP\s+ERROR\s+CREATED\s+COMPLETED$/);
    expect(lines.slice(1)).toHaveLength(3);
    for (const line of lines.slice(1)) expect(line).toMatch(/^[0-9a-f-]{36}\s+deal\.refunded\s+failed\s+3\s+500\s+answered 500\s+\S+\s+\S+$/);
    const limited = await nexus(t, 'webhooks', 'deliveries', id, '--limit', '2');
    expect(limited.stdout.trimEnd().split('\n')).toHaveLength(4);
    expect(limited.stdout).toContain('(the newest 2; --limit N shows more)');

    failing = false;
    const deliveries = await nexusJson<Array<{ id: string; eventId: string }>>(t, 'webhooks', 'deliveries', id, '--failed');
    const first = deliveries.find((d) => d.eventId === sent[0].id)!;
    const replayed = await nexus(t, 'webhooks', 'replay', first.id);
    expectSuccess(replayed);
    expect(replayed.stdout).toMatch(new RegExp(`^Replayed delivery ${first.id} as [0-9a-f-]{36}\\.\n$`));
    await eventually(() => expect(requestsOf(flaky, sent[0].id)).toHaveLength(4));

    const again = await nexus(t, 'webhooks', 'replay-failed', id, '--since', '1h');
    expectSuccess(again);
    // All three original deliveries are still failed ones (a replay is a new delivery).
    expect(again.stdout).toMatch(new RegExp(`^Replayed 3 failed deliveries of ${id} since \\d{4}-\\d\\d-\\d\\dT\\S+Z\\.\n$`));
    for (const event of sent) await eventually(() => expect(flaky.requests.filter((r) => r.id === event.id).length).toBeGreaterThanOrEqual(4));
    await eventually(async () => expect(await t.hub.bus.deliveries.list({ endpointId: id, status: 'delivered' })).toHaveLength(4));
    const all = await nexusJson<Array<{ status: string }>>(t, 'webhooks', 'deliveries', id);
    expect(all.map((d) => d.status).sort()).toEqual([...Array(4).fill('delivered'), ...Array(3).fill('failed')]);
    const future = await nexusJson(t, 'webhooks', 'replay-failed', id, '--since', new Date(Date.now() + 3600_000).toISOString());
    expect(future).toMatchObject({ endpointId: id, replayed: 0 });
  });
});

describe('nexus events list', () => {
  it('filters by --type, --source, --subject EMAIL and --since; --json is an array; --limit', async () => {
    const user = await t.hub.users.create({ email: 'Event.Subject@example.com', password: 'correct horse battery' });
    const [mine, other] = await emit(t.url, sales, [
      { type: 'lead.qualified', subject: user.id, data: { lead: 'L1' } },
      { type: 'lead.qualified', data: { lead: 'L2' } },
    ]);

    const [bySubject, byType, text, limited, bySince, nothing] = await pool([
      // The hub's own events about the user (user.created, ...) are left out by --source.
      ['events', 'list', '--subject', 'event.subject@example.com', '--source', 'sales', '--json'],
      ['events', 'list', '--type', 'lead.*', '--source', 'sales', '--json'],
      ['events', 'list', '--type', 'lead.qualified'],
      ['events', 'list', '--limit', '1', '--type', 'lead.qualified'],
      ['events', 'list', '--since', new Date(Date.now() + 60_000).toISOString(), '--json'],
      ['events', 'list', '--source', 'shelter', '--json'],
    ], 3, (args) => nexus(t, ...args));
    for (const result of [bySubject, byType, text, limited, bySince, nothing]) expectSuccess(result);
    expect(JSON.parse(bySubject.stdout)).toEqual([expect.objectContaining({ id: mine.id, subject: user.id, type: 'lead.qualified', source: 'sales', data: { lead: 'L1' } })]);
    // Newest first.
    expect((JSON.parse(byType.stdout) as Array<{ id: string }>).map((e) => e.id).slice(0, 2)).toEqual([other.id, mine.id]);
    expect(JSON.parse(bySince.stdout)).toEqual([]);
    expect(JSON.parse(nothing.stdout)).toEqual([]);

    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^OCCURRED\s+TYPE\s+SOURCE\s+SEQ\s+SUBJECT\s+ACTOR\s+ID$/);
    expect(lines[1]).toMatch(new RegExp(`^\\d{4}-\\S+Z\\s+lead\\.qualified\\s+sales\\s+${other.sequence}\\s+-\\s+client:sales\\s+${other.id}$`));
    expect(lines[2]).toMatch(new RegExp(`^\\S+\\s+lead\\.qualified\\s+sales\\s+${mine.sequence}\\s+${user.id}\\s+client:sales\\s+${mine.id}$`));
    expect(limited.stdout).toMatch(new RegExp(`^OCCURRED.*\n.*${other.id}\n\\(the newest 1; --limit N shows more\\)\n$`));

    expectFailure(await nexus(t, 'events', 'list', '--subject', 'nobody@example.com'), 1, 'no user with email nobody@example.com');
  });
});

describe('nexus clients --publishes', () => {
  it('sets, shows and clears the event types a project publishes', async () => {
    const updated = await nexus(t, 'clients', 'update', 'testing', '--publishes', 'audit.completed, project.won');
    expectSuccess(updated);
    const [shown, json] = await pool([['clients', 'show', 'testing'], ['clients', 'show', 'testing', '--json']], 2, (args) => nexus(t, ...args));
    expect(shown.stdout).toContain('\npublishes:     audit.completed, project.won\n');
    expect(JSON.parse(json.stdout).publishes).toEqual(['audit.completed', 'project.won']);
    expectFailure(await nexus(t, 'clients', 'update', 'testing', '--publishes', 'Not A Type'), 1, 'publishes: "Not A Type" is not an event type such as deal.won');

    expectSuccess(await nexus(t, 'clients', 'update', 'testing', '--publishes', ''));
    expect((await nexus(t, 'clients', 'show', 'testing')).stdout).toContain('\npublishes:     - (other projects receive none of its events)\n');
  });
});

describe('usage errors exit 2 with one line; failures exit 1', () => {
  it('refuses wrong flags before touching anything', async () => {
    const cases: Array<[string[], number, string | RegExp]> = [
      [['webhooks', 'add', '--url', steady.url, '--events', 'deal.won'], 2, 'give either --project P or --all'],
      [['webhooks', 'add', '--project', 'sales', '--all', '--url', steady.url, '--events', 'deal.won'], 2, 'give either --project P or --all'],
      [['webhooks', 'add', '--project', 'sales', '--events', 'deal.won'], 2, 'missing --url'],
      [['webhooks', 'add', '--project', 'sales', '--url', steady.url], 2, 'missing --events'],
      [['webhooks', 'show'], 2, 'missing ID'],
      [['webhooks', 'replay-failed', '00000000-0000-4000-8000-000000000000'], 2, 'missing --since'],
      [['webhooks', 'replay-failed', '00000000-0000-4000-8000-000000000000', '--since', 'yesterday'], 2, '--since must be an ISO time'],
      [['webhooks', 'deliveries', '00000000-0000-4000-8000-000000000000', '--limit', '0'], 2, '--limit must be a whole number from 1 to 1000'],
      [['events', 'list', '--limit', '1e3'], 2, '--limit must be a whole number'],
      [['events', 'list', '--type', 'Deal Won'], 2, '--type must be an event type'],
      [['events', 'list', '--source', '../etc'], 2, '--source must be a project id'],
      [['events', 'list', '--since', '2026-13-45'], 2, '--since must be an ISO time'],
      [['events', 'list', '--bogus'], 2, /Unknown option '--bogus'/],
      [['webhooks', 'frobnicate'], 2, 'unknown command "webhooks frobnicate"'],
      [['webhooks', 'add', '--project', 'nowhere', '--url', steady.url, '--events', 'deal.won'], 1, 'no registered project nowhere'],
      [['webhooks', 'add', '--project', 'sales', '--url', 'ftp://example.com/hook', '--events', 'deal.won'], 1, /https/],
      [['webhooks', 'add', '--project', 'sales', '--url', steady.url, '--events', 'Deal.Won'], 1, '"Deal.Won" is not an event type or pattern'],
      [['webhooks', 'show', 'not-an-id'], 1, 'no webhook endpoint not-an-id'],
      [['webhooks', 'disable', '00000000-0000-4000-8000-000000000000'], 1, 'no webhook endpoint'],
      [['webhooks', 'replay', '00000000-0000-4000-8000-000000000000'], 1, 'no delivery'],
      [['webhooks', 'deliveries', 'x'.repeat(5000)], 1, 'no webhook endpoint'],
    ];
    const results = await pool(cases, 3, ([args]) => nexus(t, ...args));
    cases.forEach(([args, code, reason], i) => {
      expectFailure(results[i], code, reason);
      expect(results[i].stdout, args.join(' ')).toBe('');
    });
    const json = await nexus(t, 'webhooks', 'show', 'not-an-id', '--json');
    expectFailure(json, 1, 'no webhook endpoint');
    expect(JSON.parse(json.stdout)).toEqual({ error: 'endpoint_not_found', message: 'no webhook endpoint not-an-id' });
  });
});
