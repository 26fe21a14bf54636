// Project access inside the OpenID flows. A user without access to the requesting project is
// stopped at the consent step (the no-access page, or access_denied for prompt=none), and a
// refresh or code exchange for such a user fails, so a revoked grant takes effect at the next
// token issuance.
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { ProjectAccess } from '../accounts/access.js';
import type { ClientRegistry } from '../clients/registry.js';
import type { Role } from '../clients/definition.js';
import { perRequest } from './request-memo.js';
import { grantIn } from './user-lookups.js';

export const NO_PROJECT_ACCESS = 'project_access_required';

export function createProjectAccessCheck(access: ProjectAccess, clients: ClientRegistry) {
  return async function roleInRequestingProject(ctx: KoaContextWithOIDC, accountId: string): Promise<Role | undefined> {
    const project = ctx.oidc.client && (await clients.findEnabled(ctx.oidc.client.clientId));
    return project ? perRequest(ctx, `role:${project.id}:${accountId}`, () => access.roleFor(accountId, project, grantIn(ctx, access, project.id, accountId))) : undefined;
  };
}

export function createInteractionPolicy(roleIn: ReturnType<typeof createProjectAccessCheck>) {
  const { Check, base } = interactionPolicy;
  const policy = base();
  policy.get('consent')!.checks.add(new Check(
    NO_PROJECT_ACCESS,
    'the user has no access to this project',
    'access_denied',
    async (ctx: KoaContextWithOIDC) => {
      const accountId = ctx.oidc.session?.accountId;
      if (!accountId) return Check.NO_NEED_TO_PROMPT;
      return (await roleIn(ctx, accountId)) ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    },
  ), 0); // first, so that prompt=none answers access_denied rather than consent_required
  return policy;
}
