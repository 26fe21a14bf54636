// nexus webhooks ... : webhook endpoints of every project (and the administrators' own, which
// may receive every event), their deliveries and replays. The CLI only records and queues:
// the running hubs' delivery workers send.
import type { EndpointInfo } from '../../events/endpoints.js';
import type { DeliveryInfo } from '../../events/deliveries.js';
import { optionalString, requireString, table, UsageError, type CommandGroup } from '../command.js';
import { confirm } from '../confirm.js';
import { CLI_ACTOR } from '../../admin/operations.js';
import { limitFlag, moreNote, sinceFlag } from './events.js';


const ownerText = (endpoint: EndpointInfo) => endpoint.project ?? '(admin: every event)';

function statusText(endpoint: EndpointInfo) {
  if (!endpoint.enabled) return `disabled${endpoint.disabledReason ? ` (${endpoint.disabledReason})` : ''}`;
  return endpoint.failingSince ? `enabled, failing since ${endpoint.failingSince.toISOString()}` : 'enabled';
}

function describe(endpoint: EndpointInfo) {
  return [
    `id:          ${endpoint.id}`,
    `project:     ${ownerText(endpoint)}`,
    `url:         ${endpoint.url}`,
    `events:      ${endpoint.eventTypes.join(', ')}`,
    `description: ${endpoint.description ?? '-'}`,
    `status:      ${statusText(endpoint)}`,
    ...(endpoint.previousSecretUntil ? [`old secret:  still signs beside the new one until ${endpoint.previousSecretUntil.toISOString()}`] : []),
    `created:     ${endpoint.createdAt.toISOString()}`,
  ].join('\n');
}

const secretNotice = (id: string, secret: string) => `Signing secret for ${id} (shown once, store it now):\n${secret}`;

function deliveryRows(deliveries: DeliveryInfo[]) {
  return deliveries.map((d) => ({
    id: d.id, event: d.eventType, status: d.status, attempts: d.attempts, http: d.lastStatus, error: d.lastError, created: d.createdAt, completed: d.completedAt,
  }));
}

export const webhooks: CommandGroup = {
  summary: 'webhook endpoints, deliveries and replays',
  commands: {
    add: {
      summary: 'add an endpoint of a project (or, with --all, the administrators\' one for every event); prints its secret once',
      usage: "(--project P | --all) --url URL --events 'deal.won,user.*' [--description D]",
      options: { project: { type: 'string' }, all: { type: 'boolean' }, url: { type: 'string' }, events: { type: 'string' }, description: { type: 'string' } },
      async run(ctx, values) {
        const project = optionalString(values, 'project');
        if ((project === undefined) === !values.all) throw new UsageError('give either --project P or --all (an administrators\' endpoint that may receive every event)');
        if (project === '') throw new UsageError('--project must name a project');
        const { endpoint, secret } = await ctx.ops.events.addEndpoint({}, {
          project: project ?? null, url: requireString(values, 'url'), eventTypes: requireString(values, 'events'), description: optionalString(values, 'description'),
        });
        return {
          data: { endpoint, secret },
          text: `Added webhook endpoint ${endpoint.id} for ${ownerText(endpoint)}: ${endpoint.eventTypes.join(', ')} to ${endpoint.url}\n${secretNotice(endpoint.id, secret)}`,
        };
      },
    },
    list: {
      summary: 'list endpoints (of one project with --project)',
      usage: '[--project P]',
      options: { project: { type: 'string' } },
      async run(ctx, values) {
        const project = optionalString(values, 'project');
        const all = await ctx.ops.events.listEndpoints(project === undefined ? {} : { project });
        const rows = all.map((e) => ({ id: e.id, project: e.project ?? '(admin)', url: e.url, events: e.eventTypes, status: statusText(e) }));
        return { data: all, text: table(rows, ['id', 'project', 'url', 'events', 'status']) };
      },
    },
    show: {
      summary: 'show one endpoint',
      usage: 'ID',
      args: ['ID'],
      async run(ctx, _values, [id]) {
        const endpoint = await ctx.ops.events.getEndpoint(id, {});
        return { data: endpoint, text: describe(endpoint) };
      },
    },
    disable: {
      summary: 'stop deliveries to an endpoint (its pending ones are marked failed; replay-failed sends them later)',
      usage: 'ID',
      args: ['ID'],
      async run(ctx, _values, [id]) {
        const endpoint = await ctx.ops.events.setEndpointEnabled(id, false, CLI_ACTOR, {});
        return { data: endpoint, text: `Disabled webhook endpoint ${id}.` };
      },
    },
    enable: {
      summary: 'enable a disabled endpoint',
      usage: 'ID',
      args: ['ID'],
      async run(ctx, _values, [id]) {
        const endpoint = await ctx.ops.events.setEndpointEnabled(id, true, CLI_ACTOR, {});
        return { data: endpoint, text: `Enabled webhook endpoint ${id}.` };
      },
    },
    remove: {
      summary: 'delete an endpoint with its deliveries',
      usage: 'ID [--yes]',
      args: ['ID'],
      async run(ctx, values, [id]) {
        const endpoint = await ctx.ops.events.getEndpoint(id, {});
        await confirm(ctx, values, `Remove webhook endpoint ${id} (${endpoint.url}) and its delivery history?`);
        await ctx.ops.events.removeEndpoint(id, {});
        return { data: { id, removed: true }, text: `Removed webhook endpoint ${id}.` };
      },
    },
    'rotate-secret': {
      summary: 'replace the signing secret; prints the new one once (the old one signs beside it for 24 h)',
      usage: 'ID',
      args: ['ID'],
      async run(ctx, _values, [id]) {
        const { endpoint, secret } = await ctx.ops.events.rotateEndpointSecret(id, {});
        const old = endpoint.previousSecretUntil ? `\nThe old secret keeps signing beside it until ${endpoint.previousSecretUntil.toISOString()}.` : '';
        return { data: { endpoint, secret }, text: `${secretNotice(id, secret)}${old}` };
      },
    },
    test: {
      summary: 'queue a webhook.test event for this endpoint alone (a running hub delivers it)',
      usage: 'ID',
      args: ['ID'],
      async run(ctx, _values, [id]) {
        const event = await ctx.ops.events.testEndpoint(id, CLI_ACTOR, {});
        return { data: event, text: `Queued test event ${event.id} for ${id}; see \`nexus webhooks deliveries ${id}\`.` };
      },
    },
    deliveries: {
      summary: 'list an endpoint\'s deliveries, newest first (--failed: only those given up on)',
      usage: 'ID [--failed] [--limit N]',
      args: ['ID'],
      options: { failed: { type: 'boolean' }, limit: { type: 'string' } },
      async run(ctx, values, [id]) {
        const limit = limitFlag(values);
        const found = await ctx.ops.events.listDeliveries(id, { failed: Boolean(values.failed), limit }, {});
        return { data: found, text: `${table(deliveryRows(found), ['id', 'event', 'status', 'attempts', 'http', 'error', 'created', 'completed'])}${moreNote(found.length, limit)}` };
      },
    },
    replay: {
      summary: 'send a finished delivery again (as a new delivery)',
      usage: 'DELIVERY_ID',
      args: ['DELIVERY_ID'],
      async run(ctx, _values, [id]) {
        const result = await ctx.ops.events.replayDelivery(id, {});
        return { data: result, text: `Replayed delivery ${id} as ${result.delivery}.` };
      },
    },
    'replay-failed': {
      summary: 'send an endpoint\'s failed deliveries since a time again',
      usage: 'ID --since 24h|ISO-TIME',
      args: ['ID'],
      options: { since: { type: 'string' } },
      async run(ctx, values, [id]) {
        requireString(values, 'since');
        const result = await ctx.ops.events.replayFailed(id, sinceFlag(values)!, {});
        return { data: result, text: `Replayed ${result.replayed} failed deliver${result.replayed === 1 ? 'y' : 'ies'} of ${id} since ${result.since}.` };
      },
    },
  },
};
