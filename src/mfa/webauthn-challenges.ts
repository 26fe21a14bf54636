// Outstanding WebAuthn challenges (webauthn_challenges): random, short-lived and spent once. A
// challenge is bound to what it was issued for (registration or authentication) and to a user when
// one is known; spending it is one DELETE … RETURNING, so of parallel uses exactly one gets it.
import type { PrismaClient } from '../generated/prisma/client.js';
import { randomSecret } from '../secrets/tokens.js';
import { sqlPoolOf } from '../accounts/sql-pool.js';

export type ChallengePurpose = 'registration' | 'authentication';

/** Long enough for a person to find their phone or key, short enough that a leaked one is stale. */
export const CHALLENGE_TTL_MS = 5 * 60_000;

export class WebauthnChallenges {
  constructor(private readonly prisma: PrismaClient) {}

  /** A new challenge (base64url of 32 random bytes); expired ones are swept on the way. */
  async issue(purpose: ChallengePurpose, userId: string | null): Promise<string> {
    const challenge = randomSecret(32);
    const pool = sqlPoolOf(this.prisma);
    // Swept here rather than by a timer: only the pages that issue challenges pay for it.
    await pool.query('DELETE FROM webauthn_challenges WHERE expires_at < now()');
    await pool.query(
      `INSERT INTO webauthn_challenges (id, challenge, user_id, purpose, expires_at)
       VALUES (gen_random_uuid(), $1, $2, $3, now() + make_interval(secs => $4))`,
      [challenge, userId, purpose, CHALLENGE_TTL_MS / 1000],
    );
    return challenge;
  }

  /**
   * Spends `challenge` if it is live and was issued for `purpose` and `userId` (null: for nobody
   * in particular, e.g. a passwordless sign-in). True for exactly one caller, once.
   */
  async spend(challenge: string, purpose: ChallengePurpose, userId: string | null): Promise<boolean> {
    if (challenge.length > 200) return false;
    const { rowCount } = await sqlPoolOf(this.prisma).query(
      `DELETE FROM webauthn_challenges
       WHERE challenge = $1 AND purpose = $2 AND user_id IS NOT DISTINCT FROM $3::uuid AND expires_at > now()
       RETURNING id`,
      [challenge, purpose, userId],
    );
    return rowCount === 1;
  }
}
