// Every operation on events, endpoints and deliveries, once, for the three faces that use them:
// a project's own API (/api/events, /api/webhooks/*, scoped to that project), the admin API and
// the `nexus` CLI (through AdminOperations, unscoped). Each takes the caller's scope, so a
// project can never reach another project's endpoints or deliveries.
import type { Actor, NewEvent } from './event.js';
import type { EventBus } from './bus.js';
import { EndpointError, type EndpointScope } from './endpoints.js';
import type { EventFilter } from './store.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class EventOperations {
  constructor(private readonly bus: EventBus) {}

  emit(source: string, actor: Actor, events: NewEvent[]) {
    return this.bus.emit(source, actor, events);
  }

  listEvents(filter: EventFilter) {
    return this.bus.store.list(filter);
  }

  /** One event with every delivery made of it: webhooks and automation runs, with their outcomes. */
  async showEvent(id: string) {
    const event = UUID.test(id) ? await this.bus.store.get(id) : undefined;
    if (!event) throw new EndpointError('endpoint_not_found', `no event ${id.slice(0, 40)}`);
    return { event, deliveries: await this.bus.deliveries.list({ eventId: id, limit: 1000 }) };
  }

  addEndpoint(scope: EndpointScope, input: { project: string | null; url: unknown; eventTypes: unknown; description?: unknown }) {
    return this.bus.endpoints.add({ ...input, project: scope.project ?? input.project });
  }

  listEndpoints(scope: EndpointScope) {
    return this.bus.endpoints.list(scope);
  }

  getEndpoint(id: string, scope: EndpointScope) {
    return this.bus.endpoints.get(id, scope);
  }

  updateEndpoint(id: string, changes: { url?: unknown; eventTypes?: unknown; description?: unknown }, scope: EndpointScope) {
    return this.bus.endpoints.update(id, changes, scope);
  }

  setEndpointEnabled(id: string, enabled: boolean, actor: Actor, scope: EndpointScope) {
    return this.bus.endpoints.setEnabled(id, enabled, actor, scope);
  }

  removeEndpoint(id: string, scope: EndpointScope) {
    return this.bus.endpoints.remove(id, scope);
  }

  rotateEndpointSecret(id: string, scope: EndpointScope) {
    return this.bus.endpoints.rotateSecret(id, scope);
  }

  async testEndpoint(id: string, actor: Actor, scope: EndpointScope) {
    await this.bus.endpoints.get(id, scope);
    return this.bus.sendTest(id, actor);
  }

  async listDeliveries(endpointId: string, options: { failed?: boolean; limit?: number }, scope: EndpointScope) {
    await this.bus.endpoints.get(endpointId, scope);
    return this.bus.deliveries.list({ endpointId, status: options.failed ? 'failed' : undefined, limit: options.limit });
  }

  /** A delivery with its attempts, if the scope may see its endpoint. */
  async getDelivery(id: string, scope: EndpointScope) {
    const delivery = UUID.test(id) ? await this.bus.deliveries.get(id) : undefined;
    if (!delivery || (scope.project !== undefined && !(delivery.endpointId && await this.owns(delivery.endpointId, scope)))) {
      throw new EndpointError('endpoint_not_found', `no delivery ${id.slice(0, 40)}`);
    }
    return delivery;
  }

  async replayDelivery(id: string, scope: EndpointScope) {
    await this.getDelivery(id, scope);
    const [replayed] = await this.bus.replay({ deliveryId: id });
    if (!replayed) throw new EndpointError('invalid_endpoint', 'only a finished delivery to an enabled endpoint can be replayed');
    return { replayed: id, delivery: replayed };
  }

  async replayFailed(endpointId: string, since: Date, scope: EndpointScope) {
    await this.bus.endpoints.get(endpointId, scope);
    const deliveries = await this.bus.replay({ endpointId, failedSince: since });
    return { endpointId, since: since.toISOString(), replayed: deliveries.length, deliveries };
  }

  private async owns(endpointId: string, scope: EndpointScope) {
    return this.bus.endpoints.get(endpointId, scope).then(() => true, () => false);
  }
}
