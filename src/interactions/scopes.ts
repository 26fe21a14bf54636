// Plain words for scopes on the consent page.
const DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are (your Nexus account id)',
  profile: 'See your name and profile picture',
  email: 'See your email address',
  offline_access: 'Stay connected when you are not using it',
};

export function describeScope(scope: string): string {
  if (DESCRIPTIONS[scope]) return DESCRIPTIONS[scope];
  const [area, action] = scope.split(':');
  if (action === 'read') return `View your ${area}`;
  if (action === 'write') return `Create and change your ${area}`;
  return `Use ${scope.replaceAll(/[-_:]/g, ' ')}`;
}
