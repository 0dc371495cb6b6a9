import { z } from 'zod';
import { duration, secretRef } from './schema-primitives.js';

/**
 * `upstreams.<name>.attestation` (docs/RUNTIME-TRUST.md): the runtime behind the upstream must
 * prove what it runs (evidence from its agent, POST /attest over the upstream's mutual TLS)
 * before it gets traffic. Needs `mtls` on the same upstream (checked in schema.ts).
 */

/** Hex digests: 16 to 64 bytes (dev: 32-byte manifest digests; sev-snp: 48-byte launch measurements). */
const hexDigest = z
  .string()
  .regex(/^(?:[0-9a-fA-F]{2}){16,64}$/, 'must be a hex digest (16 to 64 bytes)')
  .transform((hex) => hex.toLowerCase());

export const attestation = z
  .strictObject({
    /** The evidence kind the runtime's agent produces. */
    kind: z.enum(['dev', 'sev-snp']),
    /** How long an accepted verdict lets the runtime get traffic; re-attested every third of it. */
    freshness: duration.default(600_000),
    /** Approved measurements: weights manifest digests (dev), launch measurements (sev-snp). */
    measurements: z.array(hexDigest).min(1).max(256),
    /** Accept debug-enabled workloads (test environments only). */
    allowDebug: z.boolean().default(false),
    /** `dev` evidence: the agent's public key (SPKI PEM), pinned. */
    dev: z.strictObject({ publicKey: secretRef }).optional(),
  })
  .superRefine((a, ctx) => {
    if (a.kind === 'dev' && !a.dev) {
      ctx.addIssue({
        code: 'custom',
        path: ['dev', 'publicKey'],
        message: 'required with kind dev (the agent public key to pin, file:PATH)',
      });
    }
  });

export type AttestationConfig = z.infer<typeof attestation>;
