// Plain words for scopes on the consent page and the account center's connected apps.
// The OpenID scopes first, in the order people read them; then the projects' own.
const DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are (your Nexus account id)',
  profile: 'See your name and profile picture',
  email: 'See your email address',
  offline_access: 'Stay connected when you are not using it',
  'billing:manage': 'Change your plan and billing',
  automation: 'Run automations for you',
  team: 'Use team features',
  admin: 'Administer Nexus for you',
};
const OPENID_ORDER = ['openid', 'profile', 'email', 'offline_access'];

/** OpenID scopes first (in the order above), then the others as given. */
export function inReadingOrder(scopes: string[]): string[] {
  const rank = (scope: string) => (OPENID_ORDER.includes(scope) ? OPENID_ORDER.indexOf(scope) : OPENID_ORDER.length);
  return [...scopes].sort((a, b) => rank(a) - rank(b));
}

export function describeScope(scope: string): string {
  if (DESCRIPTIONS[scope]) return DESCRIPTIONS[scope];
  const [area, action] = scope.split(':');
  if (action === 'read') return `View your ${area}`;
  if (action === 'write') return `Create and change your ${area}`;
  return `Use ${scope.replaceAll(/[-_:]/g, ' ')}`;
}
