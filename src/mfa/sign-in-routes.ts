// The second-factor page of a sign-in (/interaction/:uid after the password, or for an older
// session when a project requires a second factor) and its form. Thin: the rules are in
// TotpFactors, RecoveryCodes, CodeLimit and SecondFactorStep.
import Router from '@koa/router';
import { koaBody } from 'koa-body';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { User, Users } from '../accounts/users.js';
import type { ClientRegistry } from '../clients/registry.js';
import type { Csrf } from '../interactions/csrf.js';
import { render } from '../http/render.js';
import { HttpError } from '../http/errors.js';
import { formField } from '../account-center/signed-in.js';
import type { TotpFactors } from './totp.js';
import { cleanCode } from './totp.js';
import type { RecoveryCodes } from './recovery-codes.js';
import { tooManyCodes, type CodeLimit } from './code-limit.js';
import { hasSecondFactor, MFA_REQUIRED, type Interaction, type SecondFactorStep } from './second-factor.js';

export interface SecondFactorDeps {
  provider: () => Provider;
  users: Users;
  clients: ClientRegistry;
  csrf: Csrf;
  step: SecondFactorStep;
  totp: TotpFactors;
  recoveryCodes: RecoveryCodes;
  limit: CodeLimit;
}

interface Client { clientId: string; name: string }

const form = koaBody({ urlencoded: true, json: false, multipart: false, text: false, formLimit: '16kb' });
const WRONG_CODE = 'That code is not right, or it was already used. Wait for the next code and try again.';
const WRONG_RECOVERY_CODE = 'That recovery code is not right, or it was already used.';

export class SecondFactorPages {
  constructor(private readonly deps: SecondFactorDeps) {}

  /**
   * The page of a login prompt that waits on a second factor (the code page, or the page that
   * leads to enrolment when the project requires one the user lacks): true when it answered.
   */
  async show(ctx: Context, interaction: Interaction, client: Client | null): Promise<boolean> {
    const signingIn = this.deps.step.signingIn(interaction);
    if (!signingIn) return false;
    const user = await this.deps.users.findById(signingIn.accountId);
    if (!user || user.disabledAt) return false;
    if (hasSecondFactor(user)) {
      await this.renderCodePage(ctx, interaction, client, user, {});
      return true;
    }
    if (!interaction.prompt.reasons.includes(MFA_REQUIRED)) return false;
    const uid = interaction.uid;
    await render(ctx, 'mfa-required', {
      title: 'Set up two-step sign-in', projectName: client?.name ?? String(interaction.params.client_id), email: user.email,
      enrolUrl: `/account/mfa?returnTo=${encodeURIComponent(`/interaction/${uid}`)}`, abortUrl: `/interaction/${uid}/abort`,
    });
    return true;
  }

  private async renderCodePage(ctx: Context, interaction: Interaction, client: Client | null, user: User | null, locals: { error?: string; recoveryOpen?: boolean }, status = 200) {
    const uid = interaction.uid;
    await render(ctx, 'second-factor', {
      title: 'Two-step sign-in', client, uid, action: `/interaction/${uid}/second-factor`, csrfToken: this.deps.csrf.token(uid), abortUrl: `/interaction/${uid}/abort`,
      hasTotp: user?.hasTotp === true, hasPasskeys: user?.hasPasskeys === true, error: locals.error ?? null, recoveryOpen: locals.recoveryOpen === true,
    }, status);
  }

  routes() {
    const { provider, users, clients, csrf, step, totp, recoveryCodes, limit } = this.deps;
    const router = new Router({ prefix: '/interaction/:uid' });

    router.post('/second-factor', form, async (ctx) => {
      if (!csrf.verify(ctx.params.uid, formField(ctx, 'csrf'))) throw new HttpError(403, 'invalid_csrf', 'This form has expired. Go back and try again.', 'Form expired');
      const interaction = await provider().interactionDetails(ctx.req, ctx.res);
      if (interaction.uid !== ctx.params.uid) throw new HttpError(400, 'session_not_found', 'This sign-in link does not belong to this browser. Go back to the application and sign in again.', 'This sign-in has expired');
      const signingIn = step.signingIn(interaction);
      if (!signingIn) throw new HttpError(400, 'invalid_request', 'This sign-in step has expired. Go back to the application and sign in again.', 'This sign-in has expired');
      const method = formField(ctx, 'method');
      if (method !== 'totp' && method !== 'recovery') throw new HttpError(400, 'invalid_request', 'Choose how to confirm your sign-in.', 'Invalid sign-in request');
      const clientId = String(interaction.params.client_id);
      const project = await clients.findEnabled(clientId);
      const client = project ? { clientId, name: project.name } : null;
      const code = cleanCode(formField(ctx, 'code').slice(0, 64));
      const recoveryOpen = method === 'recovery';
      const user = await users.findById(signingIn.accountId);
      if (!code) {
        await this.renderCodePage(ctx, interaction, client, user, { error: 'Enter the code.', recoveryOpen }, 400);
        return;
      }
      // Counted before the code is checked (code-limit.ts): parallel guesses cannot race.
      const admission = await limit.admit(signingIn.accountId);
      if (!admission.admitted) {
        ctx.set('Retry-After', String(admission.retryAfterSeconds));
        await this.renderCodePage(ctx, interaction, client, user, { error: tooManyCodes(admission.retryAfterSeconds), recoveryOpen }, 429);
        return;
      }
      const right = method === 'totp' ? await totp.verify(signingIn.accountId, code) : await recoveryCodes.spend(signingIn.accountId, code);
      if (!right) {
        ctx.state.log.info({ event: 'second_factor_failed', accountId: signingIn.accountId, method }, 'second factor refused');
        await this.renderCodePage(ctx, interaction, client, user, { error: method === 'totp' ? WRONG_CODE : WRONG_RECOVERY_CODE, recoveryOpen }, 401);
        return;
      }
      await admission.succeeded();
      await step.complete(ctx, interaction, signingIn, 'otp');
    });

    return router;
  }
}
