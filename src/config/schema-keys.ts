import { z } from 'zod';
import { positiveMs, bootstrapSecretRef, duration } from './schema-primitives.js';

/** The `keys` section: the key provider, the data-key cache, rotation (docs/KEYS.md). */

const keyName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be a key name: a-z, 0-9 and dashes');

export const keys = z
  .strictObject({
    /** Where keys live: `local` (sealed file; one node or development), `pkcs11` (HSM), `vault-transit`. */
    provider: z.enum(['local', 'pkcs11', 'vault-transit']).default('local'),
    local: z
      .strictObject({
        /** Master key file (relative to home), used when ZTGATE_MASTER_KEY is not set. */
        masterKeyFile: z.string().min(1).default('keys/master.key'),
      })
      .prefault({}),
    pkcs11: z
      .strictObject({
        module: z.string().min(1),
        tokenLabel: z.string().min(1).max(32).optional(),
        slot: z.number().int().min(0).optional(),
        pin: bootstrapSecretRef,
        labelPrefix: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,16}$/)
          .default('ztgate'),
        /** Sessions opened on the token: how many key operations run at once. */
        sessions: z.number().int().min(1).max(64).default(4),
      })
      .optional(),
    vault: z
      .strictObject({
        address: z.url(),
        token: bootstrapSecretRef,
        mount: z
          .string()
          .regex(/^[A-Za-z0-9_-][A-Za-z0-9_/-]{0,127}$/)
          .default('transit'),
        namespace: z.string().min(1).max(256).optional(),
        ca: bootstrapSecretRef.optional(),
        timeoutMs: positiveMs.default(5000),
      })
      .optional(),
    dataKeyCache: z
      .strictObject({
        maxAgeMs: positiveMs.default(300_000),
        maxUses: z
          .number()
          .int()
          .min(1)
          .max(2 ** 32)
          .default(100_000),
        maxBytes: z
          .number()
          .int()
          .min(1)
          .max(2 ** 40)
          .default(2 ** 30),
        maxEntries: z.number().int().min(0).max(1_000_000).default(1000),
      })
      .prefault({}),
    rotation: z
      .strictObject({
        checkInterval: duration.default(3_600_000),
        periods: z.record(keyName, duration).default({}),
      })
      .prefault({}),
  })
  .prefault({});
