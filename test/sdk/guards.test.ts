// Guards on a verified Principal: each passes silently or throws a 403 NexusAuthError with its code.
import { describe, expect, it } from 'vitest';
import { NexusAuthError, requireEntitlement, requirePlan, requireRole, requireScope, toPrincipal, type Principal } from '@nexus/auth';

function principal(claims: Record<string, unknown> = {}): Principal {
  return toPrincipal({ sub: 'u-1', client_id: 'sales', scope: 'leads:read leads:write', ...claims });
}

function refused(fn: () => void, code: string, message?: RegExp) {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'the guard should have thrown').toBeInstanceOf(NexusAuthError);
  const error = caught as NexusAuthError;
  expect(error.code).toBe(code);
  expect(error.status).toBe(403);
  if (message) expect(error.message).toMatch(message);
  expect(error.toJSON()).toEqual({ error: code, error_description: error.message });
  // RFC 6750 knows only insufficient_scope for 403s; the specific code stays in the JSON body.
  expect(error.wwwAuthenticate()).toContain('error="insufficient_scope"');
  return error;
}

describe('requireScope', () => {
  it('passes when every scope is granted, names the missing ones otherwise', () => {
    const p = principal();
    expect(() => requireScope(p, 'leads:read')).not.toThrow();
    expect(() => requireScope(p, 'leads:read', 'leads:write')).not.toThrow();
    expect(() => requireScope(p)).not.toThrow();
    refused(() => requireScope(p, 'leads:read', 'automation', 'team'), 'insufficient_scope', /missing scope automation team/);
    refused(() => requireScope(principal({ scope: undefined }), 'leads:read'), 'insufficient_scope');
    // Scopes are whole words: a prefix does not count.
    refused(() => requireScope(principal({ scope: 'leads:readonly' }), 'leads:read'), 'insufficient_scope');
  });
});

describe('requireRole (read_only < user < admin)', () => {
  const cases: Array<[string | undefined, 'read_only' | 'user' | 'admin', boolean]> = [
    ['admin', 'admin', true], ['admin', 'user', true], ['admin', 'read_only', true],
    ['user', 'admin', false], ['user', 'user', true], ['user', 'read_only', true],
    ['read_only', 'admin', false], ['read_only', 'user', false], ['read_only', 'read_only', true],
    [undefined, 'read_only', false], ['owner', 'read_only', false], [null as unknown as undefined, 'read_only', false],
  ];
  it.each(cases)('role %s, minimum %s → %s', (role, minimum, ok) => {
    const p = principal({ role });
    if (ok) expect(() => requireRole(p, minimum)).not.toThrow();
    else refused(() => requireRole(p, minimum), 'insufficient_role', new RegExp(`requires the ${minimum} role`));
  });
});

describe('requirePlan (free < pro < business < enterprise)', () => {
  const plans = ['free', 'pro', 'business', 'enterprise'];
  it('passes at or above the minimum, refuses below', () => {
    plans.forEach((have, i) => plans.forEach((minimum, j) => {
      const p = principal({ plan: have });
      if (i >= j) expect(() => requirePlan(p, minimum)).not.toThrow();
      else refused(() => requirePlan(p, minimum), 'insufficient_plan', new RegExp(`requires the ${minimum} plan or higher`));
    }));
  });

  it('refuses a token without a plan, an unknown plan, and an unknown minimum', () => {
    refused(() => requirePlan(principal(), 'free'), 'insufficient_plan');
    refused(() => requirePlan(principal({ plan: 'platinum' }), 'free'), 'insufficient_plan');
    refused(() => requirePlan(principal({ plan: 'enterprise' }), 'ultimate'), 'insufficient_plan');
  });

  it('Object.prototype names are not plans', () => {
    refused(() => requirePlan(principal({ plan: 'constructor' }), 'free'), 'insufficient_plan');
    refused(() => requirePlan(principal({ plan: 'toString' }), 'enterprise'), 'insufficient_plan');
    refused(() => requirePlan(principal({ plan: 'free' }), 'constructor'), 'insufficient_plan');
  });
});

describe('requireEntitlement', () => {
  const p = principal({ entitlements: { automation: true, export: false, leadsPerMonth: 500, seats: 0, storage: null } });

  it('true and positive numbers pass; false, 0 and absent are refused', () => {
    expect(() => requireEntitlement(p, 'automation')).not.toThrow();
    expect(() => requireEntitlement(p, 'leadsPerMonth')).not.toThrow();
    refused(() => requireEntitlement(p, 'export'), 'missing_entitlement', /requires the export entitlement$/);
    refused(() => requireEntitlement(p, 'seats'), 'missing_entitlement');
    refused(() => requireEntitlement(p, 'advisor'), 'missing_entitlement');
    refused(() => requireEntitlement(principal(), 'automation'), 'missing_entitlement');
  });

  it('null means unlimited', () => {
    expect(() => requireEntitlement(p, 'storage')).not.toThrow();
    expect(() => requireEntitlement(p, 'storage', 1e12)).not.toThrow();
  });

  it('atLeast compares numbers', () => {
    expect(() => requireEntitlement(p, 'leadsPerMonth', 100)).not.toThrow();
    expect(() => requireEntitlement(p, 'leadsPerMonth', 500)).not.toThrow();
    refused(() => requireEntitlement(p, 'leadsPerMonth', 501), 'missing_entitlement', /requires the leadsPerMonth entitlement \(501\)/);
    refused(() => requireEntitlement(p, 'automation', 1), 'missing_entitlement'); // a boolean is not a quantity
    refused(() => requireEntitlement(p, 'advisor', 0), 'missing_entitlement');
  });
});

describe('toPrincipal', () => {
  it('ignores malformed claims instead of trusting them', () => {
    const p = toPrincipal({ sub: 'u', client_id: 'c', scope: 42, email: ['x'], role: 'root', plan: 7, entitlements: 'all' });
    expect(p).toMatchObject({ scopes: [], email: undefined, role: undefined, plan: undefined, entitlements: {}, isUser: true });
  });
});
