// Options a project usually sets once for the process: an explicit option wins, else the
// environment variable (NEXUS_ISSUER, NEXUS_AUDIENCE, NEXUS_CLIENT_ID, NEXUS_CLIENT_SECRET).

export function setting(value: string | undefined, variable: string, option: string): string {
  const resolved = value ?? (typeof process === 'undefined' ? undefined : process.env[variable]);
  if (!resolved) throw new TypeError(`@nexus/auth: pass the ${option} option or set ${variable}`);
  return resolved;
}
