import { z } from 'zod';
import { positiveMs } from './schema-primitives.js';

/** The `ledger` section (docs/AUDIT.md): the tamper-evident audit log. */

const witness = z.discriminatedUnion('kind', [
  /** Writes each new checkpoint to a file (atomically replaced), for a backup or an auditor to pick up. */
  z.strictObject({ kind: z.literal('file'), path: z.string().min(1).max(4096) }),
  /**
   * A witness speaking the C2SP tlog-witness protocol: POST <url>/add-checkpoint with the previous
   * size and a consistency proof; its cosignature is verified with `verifierKey` when given.
   */
  z.strictObject({
    kind: z.literal('http'),
    url: z.url({ protocol: /^https?$/ }),
    verifierKey: z.string().min(1).max(1024).optional(),
    timeoutMs: positiveMs.default(5000),
  }),
]);

export const ledger = z
  .strictObject({
    /** The log's name: the checkpoint's first line and the signer's key name. */
    origin: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._/:-]{0,127}$/, 'must be a log name: letters, digits and . _ / : -')
      .default('ztgate.local/ledger'),
    checkpoint: z
      .strictObject({
        /** Sign a checkpoint once this many entries were appended since the last one... */
        everyEntries: z.number().int().min(1).max(1_000_000).default(1000),
        /** ...or once this long has passed with any new entry. */
        intervalMs: z.number().int().min(10).max(3_600_000).default(1000),
      })
      .prefault({}),
    witnesses: z.array(witness).max(16).default([]),
    retention: z
      .strictObject({
        /** Retained content of all requests expiring in one period shares one key (shredded at its end). */
        period: z.enum(['day', 'month']).default('day'),
        /** Also encrypt retained content under a key per subject (principal), for erasure requests. */
        perSubject: z.boolean().default(false),
        /** How often expired periods are shredded. */
        sweepIntervalMs: z.number().int().min(100).max(86_400_000).default(60_000),
      })
      .prefault({}),
  })
  .prefault({});

export type LedgerConfig = z.infer<typeof ledger>;
export type WitnessConfig = z.infer<typeof witness>;
