// How a user signed in, as tokens say it: `amr` values of RFC 8176 and the hub's two `acr`
// classes. One place, so the login result, the policy and the token claims agree.

export const ACR_PASSWORD = 'urn:nexus:acr:password';
export const ACR_MFA = 'urn:nexus:acr:mfa';
export const ACR_VALUES = [ACR_PASSWORD, ACR_MFA];

/** `pwd` password, `otp` TOTP or recovery code, `hwk`/`swk` passkey (hardware / software key). */
export type Factor = 'pwd' | 'otp' | 'hwk' | 'swk';

/** The `amr` and `acr` of a sign-in with these factors: `mfa` and the MFA class once there are two. */
export function authentication(factors: Factor[]): { amr: string[]; acr: string } {
  const distinct = [...new Set(factors)];
  return distinct.length >= 2 ? { amr: [...distinct, 'mfa'], acr: ACR_MFA } : { amr: distinct, acr: ACR_PASSWORD };
}

/** Whether a session's `amr` shows two factors (sessions from before second factors have none). */
export function isMultiFactor(amr: readonly string[] | undefined): boolean {
  return amr?.includes('mfa') === true;
}
