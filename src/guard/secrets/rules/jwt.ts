/** JSON Web Tokens: three base64url parts whose header decodes to a JSON object with `alg`. */
import type { SecretRule } from '../types.js';
import { pattern } from './build.js';

function decodeSegment(seg: string): string | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(seg)) return undefined;
  try {
    return Buffer.from(seg, 'base64url').toString('latin1');
  } catch {
    return undefined;
  }
}

/** The header must decode to a JSON object naming `alg` (or `typ`), the payload to an object. */
export function isJwt(value: string): boolean {
  const [header, payload] = value.split('.');
  if (header === undefined || payload === undefined) return false;
  const h = decodeSegment(header);
  if (h === undefined) return false;
  try {
    const parsed: unknown = JSON.parse(h);
    if (typeof parsed === 'object' && parsed !== null && ('alg' in parsed || 'typ' in parsed)) return true;
  } catch {
    // fall through: a damaged header still counts when its shape is clearly a JOSE header
  }
  const p = decodeSegment(payload.slice(0, 8));
  return /^\{"(?:alg|typ|kid)"/.test(h) && /\}\s*$/.test(h) && p !== undefined && p.startsWith('{"');
}

export const JWT_RULES: readonly SecretRule[] = [
  pattern(
    'jwt',
    'jwt',
    'JSON Web Token (signed or unsigned)',
    ['eyj'],
    /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{10,4000}\.eyJ[A-Za-z0-9_-]{2,16000}(?:\.[A-Za-z0-9_-]{0,4000})?/,
    { validate: isJwt, score: 0.85 },
  ),
];
