// Project access inside the OpenID flows. A user without access to the requesting project is
// stopped at the consent step (the no-access page, or access_denied for prompt=none), and a
// refresh or code exchange for such a user fails, so a revoked grant takes effect at the next
// token issuance. A project that requires verified emails stops an unverified user there too.
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { ProjectAccess } from '../accounts/access.js';
import type { ClientRegistry } from '../clients/registry.js';
import type { Role } from '../clients/definition.js';
import type { Users } from '../accounts/users.js';
import { perRequest } from './request-memo.js';
import { grantIn } from './user-lookups.js';
import { MFA_REQUIRED } from '../mfa/second-factor.js';
import { isMultiFactor } from '../mfa/amr.js';

export const NO_PROJECT_ACCESS = 'project_access_required';
export const EMAIL_NOT_VERIFIED = 'email_verification_required';

export function createProjectAccessCheck(access: ProjectAccess, clients: ClientRegistry) {
  return async function roleInRequestingProject(ctx: KoaContextWithOIDC, accountId: string): Promise<Role | undefined> {
    const project = ctx.oidc.client && (await clients.findEnabled(ctx.oidc.client.clientId));
    return project ? perRequest(ctx, `role:${project.id}:${accountId}`, () => access.roleFor(accountId, project, grantIn(ctx, access, project.id, accountId))) : undefined;
  };
}

export function createVerifiedEmailCheck(users: Users, clients: ClientRegistry) {
  return async function emailVerifiedFor(ctx: KoaContextWithOIDC, accountId: string): Promise<boolean> {
    const project = ctx.oidc.client && (await clients.findEnabled(ctx.oidc.client.clientId));
    // The registry's cache answers: a project without the flag costs no statement (issue 8's
    // login storm has none to spare), one with it reuses findAccount's read of the user.
    if (!project?.requireVerifiedEmail) return true;
    const user = await perRequest(ctx, `user:${accountId}`, () => users.findById(accountId));
    return user?.emailVerified === true;
  };
}

/**
 * Whether the requesting project requires a second factor (`requireMfa`). The registry's cache
 * answers: no statement, whatever the project.
 */
export function createMfaRequirement(clients: ClientRegistry) {
  return async function mfaRequiredBy(ctx: KoaContextWithOIDC): Promise<boolean> {
    const project = ctx.oidc.client && (await clients.findEnabled(ctx.oidc.client.clientId));
    return project?.requireMfa === true;
  };
}

export function createInteractionPolicy(roleIn: ReturnType<typeof createProjectAccessCheck>, emailVerifiedFor: ReturnType<typeof createVerifiedEmailCheck>, mfaRequiredBy: ReturnType<typeof createMfaRequirement>) {
  const { Check, base } = interactionPolicy;
  const policy = base();
  // A login prompt, not consent: the session's sign-in is not strong enough, so the user signs in
  // again (the second-factor step, or enrolment first: src/mfa/second-factor.ts). The session's
  // `amr` tells; a session from before second factors has none and is asked too.
  policy.get('login')!.checks.add(new Check(
    MFA_REQUIRED,
    'the project requires a sign-in with a second factor',
    'interaction_required',
    async (ctx: KoaContextWithOIDC) => {
      if (!ctx.oidc.session?.accountId) return Check.NO_NEED_TO_PROMPT;
      if (isMultiFactor(ctx.oidc.session.amr)) return Check.NO_NEED_TO_PROMPT;
      return (await mfaRequiredBy(ctx)) ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
    },
  ));
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
  policy.get('consent')!.checks.add(new Check(
    EMAIL_NOT_VERIFIED,
    'the project requires a verified email address: the user must verify it first',
    'interaction_required',
    async (ctx: KoaContextWithOIDC) => {
      const accountId = ctx.oidc.session?.accountId;
      if (!accountId) return Check.NO_NEED_TO_PROMPT;
      return (await emailVerifiedFor(ctx, accountId)) ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    },
  ), 1); // after access: a user who may not use the project is not asked to verify for it
  return policy;
}
