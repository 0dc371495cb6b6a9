import { z } from 'zod';

/** Value types shared by the sections of the config schema. */

export const port = z.number().int().min(0).max(65535);
export const positiveMs = z.number().int().min(1).max(3_600_000);
export const host = z.string().min(1).max(253);

/**
 * A secret the key provider itself needs (its PIN, its token): `env:NAME` or `file:PATH`, never
 * `sealed:` (sealed values are opened by the key provider).
 */
export const bootstrapSecretRef = z
  .string()
  .regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$/, 'must be a secret reference: env:NAME or file:PATH');

/**
 * A secret is never written in the config itself: `env:NAME`, `file:PATH`, or
 * `sealed:<key-id>:<ciphertext>` (made by `ztgate secret seal`).
 */
export const secretRef = z
  .string()
  .regex(
    /^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+|sealed:[a-z0-9][a-z0-9-]{0,62}@[1-9][0-9]{0,8}:[A-Za-z0-9_-]{40,})$/,
    'must be a secret reference: env:NAME, file:PATH or sealed:<key-id>:<ciphertext>',
  );

export const DURATION_UNITS_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration such as `90d`, `12h`, `30m` or `45s`, in milliseconds. */
export const duration = z
  .string()
  .regex(/^[1-9][0-9]{0,5}[smhd]$/, 'must be a duration such as 90d, 12h, 30m or 45s')
  .transform(
    (text) => Number(text.slice(0, -1)) * DURATION_UNITS_MS[text.slice(-1) as keyof typeof DURATION_UNITS_MS],
  );

export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

/**
 * A SPIFFE ID (`spiffe://trust-domain/path`) or a prefix pattern ending in `/*`
 * (`spiffe://trust-domain/agent/*`). Checked strictly again at start by src/mesh/spiffe.ts.
 */
export const spiffeIdPattern = z
  .string()
  .max(2048)
  .regex(
    /^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._-]+)*(\/\*)?$/,
    'must be a SPIFFE ID spiffe://trust-domain/path, or a pattern ending in /*',
  )
  .refine((id) => !/\/\.{1,2}(\/|$)/.test(id), 'must not have . or .. path segments')
  .refine((id) => /^spiffe:\/\/[^/]+\/./.test(id), 'must have a path (spiffe://trust-domain/kind/name)');
