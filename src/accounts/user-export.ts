// "Download my data": everything the hub keeps about one user, as one JSON document. Only what
// describes the user: never a password hash, a key or token hash, or a sealed secret, so the
// rows are read field by field (a new secret column never slips in with a `select *`).
import type { PrismaClient } from '../generated/prisma/client.js';

/** The newest events about the user that an export carries (the audit log can be long). */
export const EXPORTED_EVENTS = 1000;

export class UserExport {
  constructor(private readonly prisma: PrismaClient) {}

  /** The export of `userId`, or undefined when there is no such user (any more). */
  async of(userId: string): Promise<Record<string, unknown> | undefined> {
    const { prisma } = this;
    const user = await prisma.user.findUnique({
      where: { id: userId },
      select: { id: true, email: true, emailVerified: true, fullName: true, avatarUrl: true, passwordHash: true, disabledAt: true, createdAt: true, updatedAt: true },
    });
    if (!user) return undefined;
    const [access, subscription, apiKeys, sessions, consents, mailedLinks, events] = await Promise.all([
      prisma.projectAccess.findMany({ where: { userId }, select: { project: true, role: true, source: true, grantedAt: true }, orderBy: { project: 'asc' } }),
      prisma.subscription.findUnique({
        where: { userId },
        select: { plan: true, status: true, currentPeriodEnd: true, mrrCents: true, stripeCustomerId: true, stripeSubscriptionId: true, createdAt: true, updatedAt: true },
      }),
      prisma.apiKey.findMany({
        where: { userId },
        select: { id: true, name: true, env: true, prefix: true, rateLimit: true, createdAt: true, lastUsedAt: true, expiresAt: true, revokedAt: true },
        orderBy: { createdAt: 'asc' },
      }),
      prisma.hubSession.findMany({ where: { userId }, select: { userAgent: true, ip: true, signedInAt: true, lastSeenAt: true }, orderBy: { signedInAt: 'asc' } }),
      prisma.consent.findMany({
        where: { userId }, select: { clientId: true, oidcScopes: true, claims: true, resourceScopes: true, createdAt: true, updatedAt: true }, orderBy: { clientId: 'asc' },
      }),
      prisma.accountToken.findMany({
        where: { userId }, select: { purpose: true, email: true, createdAt: true, expiresAt: true, consumedAt: true }, orderBy: { createdAt: 'asc' },
      }),
      prisma.event.findMany({
        where: { userId },
        select: { id: true, type: true, source: true, sequence: true, actor: true, data: true, occurredAt: true, createdAt: true },
        orderBy: [{ createdAt: 'desc' }, { sequence: 'desc' }],
        take: EXPORTED_EVENTS,
      }),
    ]);
    const { passwordHash, fullName, disabledAt, ...profile } = user;
    return {
      exportedAt: new Date().toISOString(),
      profile: { ...profile, name: fullName, disabled: disabledAt !== null, hasPassword: passwordHash !== null },
      projectAccess: access,
      subscription,
      apiKeys,
      sessions,
      consents: consents.map(({ clientId, oidcScopes, ...consent }) => ({ project: clientId, scopes: oidcScopes, ...consent })),
      mailedLinks,
      events: events.map((event) => ({ ...event, sequence: event.sequence.toString() })),
      eventsIncluded: `the newest ${EXPORTED_EVENTS} at most`,
    };
  }
}
