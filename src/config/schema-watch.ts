import { z } from 'zod';
import { duration, host, port, secretRef } from './schema-primitives.js';

/**
 * `watch` (docs/RESPONSE.md): risk scores, anomaly detection and incident playbooks. Playbooks
 * come from the policy bundle's `playbooks.yaml` (signed with it), or from `playbooks` here.
 */
export const watch = z
  .strictObject({
    /** Derive signals and run playbooks. Off: risk stays 0 and nothing is quarantined automatically. */
    enabled: z.boolean().default(true),
    /** A playbooks file (relative to home) used when the live bundle has no playbooks.yaml. */
    playbooks: z.string().min(1).optional(),
    risk: z
      .strictObject({
        /** A principal's risk halves every halfLife without new signals. */
        halfLife: duration.default(3_600_000),
      })
      .prefault({}),
    /** How long a held tool call waits for approval and, approved, for its client. */
    approvalTtl: duration.default(86_400_000),
    /** Where `notify: { syslog: true }` sends incidents (RFC 5424). */
    syslog: z
      .strictObject({
        host,
        port,
        transport: z.enum(['tcp', 'tls', 'udp']).default('tls'),
        ca: secretRef.optional(),
        /** Plain TCP/UDP to a host other than loopback (the network can read incidents). */
        allowPlaintext: z.boolean().default(false),
      })
      .optional(),
  })
  .prefault({});

export type WatchConfig = z.infer<typeof watch>;
