// Proxy settings checked at start. The hub speaks plain HTTP, so an https ISSUER only works
// behind a TLS-terminating proxy it trusts: without TRUST_PROXY every route that sets a
// (Secure) cookie answered 500. That configuration is refused with one clear line instead.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { runServer } from '../support/process.js';

const HTTPS_WITHOUT_PROXY = 'ISSUER is https but TRUST_PROXY is not true: the hub listens on plain HTTP, so run it behind a TLS-terminating proxy and set TRUST_PROXY=true';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('loadConfig', () => {
  it('refuses an https ISSUER without TRUST_PROXY=true', () => {
    expect(problemsOf({ ISSUER: 'https://id.example.com' })).toEqual([HTTPS_WITHOUT_PROXY]);
    expect(problemsOf({ ISSUER: 'https://id.example.com', TRUST_PROXY: 'false' })).toEqual([HTTPS_WITHOUT_PROXY]);
  });

  it('accepts an https ISSUER behind a trusted proxy, and an http one without', () => {
    expect(loadConfig({ ISSUER: 'https://id.example.com', TRUST_PROXY: 'true' })).toMatchObject({ trustProxy: true, trustProxyHops: 1 });
    expect(loadConfig({ ISSUER: 'http://localhost:3000' })).toMatchObject({ trustProxy: false });
  });

  it('reads TRUST_PROXY_HOPS (default 1) and refuses it without TRUST_PROXY or out of range', () => {
    expect(loadConfig({ TRUST_PROXY: 'true', TRUST_PROXY_HOPS: '2' }).trustProxyHops).toBe(2);
    expect(problemsOf({ TRUST_PROXY_HOPS: '2' })).toEqual(['TRUST_PROXY_HOPS is set but TRUST_PROXY is not true']);
    expect(problemsOf({ TRUST_PROXY: 'true', TRUST_PROXY_HOPS: '0' })).toEqual(['TRUST_PROXY_HOPS must be a whole number from 1 to 20 (got "0")']);
  });
});

describe('the real server', () => {
  it('exits 78 with that one line for an https ISSUER without TRUST_PROXY', async () => {
    const server = runServer({ ISSUER: 'https://id.example.com', DATA_DIR: '/nonexistent/never-created' });
    expect(await server.exited).toBe(78);
    const output = server.output();
    expect(output).toContain(`Invalid configuration:\n  - ${HTTPS_WITHOUT_PROXY}\n`);
    expect(output.split('\n').filter((line) => line.startsWith('  - '))).toEqual([`  - ${HTTPS_WITHOUT_PROXY}`]);
    expect(output).not.toContain('    at ');
  });
});
