// Cross-process change notifications over PostgreSQL LISTEN/NOTIFY: when the CLI (or another
// instance) changes clients or keys, every running hub reloads them within moments. Caches also
// expire on their own, so a missed notification only delays a change, it never loses it.
import pg from 'pg';
import type { Logger } from '../logger.js';
import type { PrismaClient } from '../generated/prisma/client.js';

/** One channel, one listening connection per instance; the payload is the topic. */
export const CHANGE_CHANNEL = 'nexus_changes';

/** How often running hubs re-read keys and clients even without a change notification. */
export const RELOAD_INTERVAL_MS = 30_000;
/**
 * `events`: the event bus queued deliveries (delivery workers claim at once instead of at their next poll).
 * `mail`: a mail was queued (sent inside the queueing transaction: heard only once it commits).
 */
export type ChangeTopic = 'clients' | 'keys' | 'events' | 'mail';

/** `prisma` may be a transaction: the notification is then delivered when it commits, and never if it rolls back. */
export async function publishChange(prisma: Pick<PrismaClient, '$executeRaw'>, topic: ChangeTopic): Promise<void> {
  await prisma.$executeRaw`SELECT pg_notify(${CHANGE_CHANNEL}, ${topic})`;
}

export interface ChangeListener {
  close(): Promise<void>;
}

export function listenForChanges(
  connectionString: string,
  /** `origin`: what the sender put after `topic:` in the payload (an instance id), if anything. */
  onChange: (topic: ChangeTopic, origin?: string) => void,
  log: Logger,
): ChangeListener {
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const connect = async () => {
    const next = new pg.Client({ connectionString });
    next.on('notification', (message) => {
      const [topic, origin] = (message.payload ?? '').split(':', 2);
      onChange(topic as ChangeTopic, origin);
    });
    next.on('error', (error) => {
      log.warn({ err: error.message }, 'change listener lost its connection; reconnecting');
      schedule();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${CHANGE_CHANNEL}`);
      client = next;
      // Anything may have changed while we were disconnected.
      onChange('clients');
      onChange('keys');
      onChange('events');
      onChange('mail');
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'change listener could not connect; retrying');
      await next.end().catch(() => {});
      schedule();
    }
  };

  const schedule = () => {
    if (closed || retry) return;
    client?.end().catch(() => {});
    client = undefined;
    retry = setTimeout(() => {
      retry = undefined;
      void connect();
    }, 2000);
    retry.unref();
  };

  void connect();
  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      await client?.end().catch(() => {});
    },
  };
}
