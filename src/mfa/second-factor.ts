// The second step of a sign-in. A right password for a user with a second factor does not sign
// in: the interaction (bound to the browser by oidc-provider's interaction cookie) records
// "password verified for account X" for 5 minutes, and only a TOTP code, a recovery code or a
// passkey (passkey routes call `complete`) finishes the login, with `amr`/`acr` saying how.
// An older password-only session meets the same step when a project requires a second factor
// (the login prompt's `mfa_required` reason, project-access.ts).
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { User, Users } from '../accounts/users.js';
import { authentication, type Factor } from './amr.js';

export type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** The login prompt's reason when the project requires a second factor the session lacks. */
export const MFA_REQUIRED = 'mfa_required';
export const PASSWORD_STEP_SECONDS = 5 * 60;

// Kept in the interaction's `result`, which oidc-provider stores with it and reads only for
// `login`/`consent`/`error`: a browser that jumps to the resume URL gets the login prompt again.
const PASSWORD_VERIFIED = 'nexusPasswordVerified';

interface PasswordVerified {
  accountId: string;
  /** Epoch seconds. */
  expiresAt: number;
}

/** Who is between the first and the second factor in this interaction, and with which factors. */
export interface SigningIn {
  accountId: string;
  factors: Factor[];
}

const FACTORS = new Set<string>(['pwd', 'otp', 'hwk', 'swk']);
const now = () => Math.floor(Date.now() / 1000);

export function hasSecondFactor(user: Pick<User, 'hasTotp' | 'hasPasskeys'>): boolean {
  return user.hasTotp === true || user.hasPasskeys === true;
}

export class SecondFactorStep {
  constructor(private readonly provider: () => Provider, private readonly users: Users) {}

  /** After a right password: the interaction remembers it, the browser goes to the code page. */
  async passwordVerified(ctx: Context, interaction: Interaction, accountId: string): Promise<void> {
    const verified: PasswordVerified = { accountId, expiresAt: now() + PASSWORD_STEP_SECONDS };
    interaction.result = { [PASSWORD_VERIFIED]: verified };
    await interaction.persist();
    ctx.status = 303;
    ctx.redirect(`/interaction/${interaction.uid}`);
  }

  /** The account this interaction waits on for a second factor, or undefined. */
  signingIn(interaction: Interaction): SigningIn | undefined {
    const verified = (interaction.result as Record<string, PasswordVerified | undefined> | undefined)?.[PASSWORD_VERIFIED];
    if (interaction.prompt.name !== 'login') return undefined;
    if (verified && typeof verified.accountId === 'string' && verified.expiresAt > now()) return { accountId: verified.accountId, factors: ['pwd'] };
    const sessionAccount = interaction.session?.accountId;
    if (sessionAccount && interaction.prompt.reasons.includes(MFA_REQUIRED)) {
      // A session from before second factors says nothing: it was a password.
      const amr = (interaction.session?.amr ?? ['pwd']).filter((value) => FACTORS.has(value)) as Factor[];
      return { accountId: sessionAccount, factors: amr.length ? amr : ['pwd'] };
    }
    return undefined;
  }

  /**
   * The second factor was right: the sign-in finishes with both factors in `amr`. The hook for
   * every method: TOTP and recovery codes (`otp`) here, passkeys (`hwk`/`swk`) in their routes.
   */
  async complete(ctx: Context, interaction: Interaction, signingIn: SigningIn, method: Factor): Promise<void> {
    const { accountId } = signingIn;
    ctx.state.log.info({ event: 'login', accountId, method }, 'login succeeded with a second factor');
    await this.users.signedIn(accountId, String(interaction.params.client_id));
    const redirectTo = await this.provider().interactionResult(ctx.req, ctx.res, {
      login: { accountId, ...authentication([...signingIn.factors, method]) },
    }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(redirectTo);
  }
}
