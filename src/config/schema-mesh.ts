import { z } from 'zod';
import { duration } from './schema-primitives.js';

/** The `mesh` section (docs/MESH.md). */

/** Mutual TLS between ztgate's components with SPIFFE IDs (docs/MESH.md). */
export const mesh = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** Peers' trust domain; default: the built-in CA's. Required with trustBundle. */
    trustDomain: z
      .string()
      .regex(/^[a-z0-9._-]{1,255}$/, 'must be a trust domain: a-z 0-9 . - _')
      .optional(),
    /** The gateway's own SVID is spiffe://<built-in CA trust domain>/gateway/<name>. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/)
      .refine((n) => n !== '.' && n !== '..', 'must not be . or ..')
      .default('ztgate'),
    /** Lifetime of the gateway's SVID; renewed at two thirds. 1s (tests) to 30d. */
    svidTtl: duration
      .pipe(
        z
          .number()
          .min(1000)
          .max(30 * 86_400_000),
      )
      .default(86_400_000),
    /** `file:PATH`: PEM CA certificates or a SPIFFE bundle (JWKS) that replaces the built-in CA's root. */
    trustBundle: z
      .string()
      .regex(/^file:.+$/, 'must be file:PATH')
      .optional(),
  })
  .prefault({});
