// DEMO ONLY. The demo provider's accounts: any user name, roles by the start of the name (login
// page) or as the demo grant asks, and the claims its tokens carry.
import { errors, type Account } from 'oidc-provider';

const USER_PATTERN = /^[A-Za-z0-9._@-]{1,64}$/;
const ROLE_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
const MAX_ROLES = 16;

export function demoAccount(sub: string): Account | undefined {
  if (!USER_PATTERN.test(sub)) return undefined;
  return {
    accountId: sub,
    claims: () => ({ sub, email: demoEmail(sub), name: sub, roles: [...demoUserRoles(sub)] }),
  };
}

/** The roles a demo user signed in through the login page has: by the start of the user name. */
export function demoUserRoles(user: string): readonly string[] {
  if (user.startsWith('admin')) return ['ztgate-admin'];
  if (user.startsWith('auditor')) return ['ztgate-auditor'];
  return [];
}

export function demoClaims(user: string, roles: readonly string[]): Record<string, unknown> {
  return { roles: [...roles], email: demoEmail(user), name: user, demo: true };
}

function demoEmail(user: string): string {
  return `${user}@demo.ztgate.local`;
}

export function parseUser(value: unknown): string {
  if (typeof value !== 'string' || value === '')
    throw new errors.InvalidRequest('missing required parameter user');
  if (!USER_PATTERN.test(value))
    throw new errors.InvalidRequest('user must be 1-64 characters of A-Za-z0-9._@-');
  return value;
}

export function parseRoles(value: unknown): readonly string[] {
  if (value === undefined) return [];
  if (typeof value !== 'string') throw new errors.InvalidRequest('roles must be a string');
  const roles = value.split(' ').filter((role) => role !== '');
  if (roles.length > MAX_ROLES) throw new errors.InvalidRequest(`at most ${MAX_ROLES} roles are allowed`);
  if (!roles.every((role) => ROLE_PATTERN.test(role))) {
    throw new errors.InvalidRequest('each role must be 1-64 characters of A-Za-z0-9._:-');
  }
  return [...new Set(roles)];
}
