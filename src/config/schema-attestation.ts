import { z } from 'zod';
import { referenceFields } from '../runtime/attestation/reference-schema.js';
import { duration, secretRef } from './schema-primitives.js';

/**
 * `upstreams.<name>.attestation` (docs/RUNTIME-TRUST.md): the runtime behind the upstream must
 * prove what it runs (evidence from its agent, POST /attest over the upstream's mutual TLS)
 * before it gets traffic. Needs `mtls` on the same upstream (checked in schema.ts).
 */

export const EVIDENCE_KINDS = [
  'dev',
  'sev-snp',
  'tdx',
  'azure-attestation',
  'gcp-confidential-space',
  'ear',
] as const;
const TOKEN_KINDS: readonly string[] = ['azure-attestation', 'gcp-confidential-space', 'ear'];

/** Who issues attestation-service tokens, and how their keys are found (never from the token). */
const service = z.strictObject({
  /** The issuer exactly as in `iss` (Azure: the provider URL; Confidential Space: default Google's). */
  issuer: z.url().optional(),
  jwksUrl: z.url().optional(),
  /** A pinned verification key (EAR verifiers), SPKI PEM. */
  publicKey: secretRef.optional(),
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  algorithms: z
    .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384']))
    .min(1)
    .optional(),
});

export const attestation = z
  .strictObject({
    /** The evidence kind the runtime's agent produces. */
    kind: z.enum(EVIDENCE_KINDS),
    /** How long an accepted verdict lets the runtime get traffic; re-attested every third of it. */
    freshness: duration.default(600_000),
    ...referenceFields,
    /** `dev` evidence: the agent's public key (SPKI PEM), pinned. */
    dev: z.strictObject({ publicKey: secretRef }).optional(),
    /** Token kinds: the attestation service. */
    service: service.optional(),
    /** `tdx`: Intel PCS collateral files (as fetched from the PCS), to evaluate the platform's TCB level. */
    tdxCollateral: z
      .strictObject({
        tcbInfo: z.string().min(1),
        qeIdentity: z.string().min(1),
        /** The TCB-Info-Issuer-Chain header, PEM. */
        tcbSigningChain: z.string().min(1),
        pckCrl: z.string().min(1).optional(),
        rootCrl: z.string().min(1).optional(),
      })
      .optional(),
  })
  .superRefine((a, ctx) => {
    const issue = (path: string[], message: string): void => ctx.addIssue({ code: 'custom', path, message });
    if (a.kind === 'dev' && !a.dev)
      issue(['dev', 'publicKey'], 'required with kind dev (the agent public key to pin, file:PATH)');
    if (a.tdxCollateral && a.kind !== 'tdx') issue(['tdxCollateral'], `not used with kind ${a.kind}`);
    if (!TOKEN_KINDS.includes(a.kind)) {
      if (a.service) issue(['service'], `not used with kind ${a.kind}`);
      return;
    }
    const s = a.service;
    if (!s) return issue(['service'], `required with kind ${a.kind} (who issues the tokens)`);
    if (a.kind === 'azure-attestation' && !s.issuer)
      issue(['service', 'issuer'], 'required: the attestation provider URL');
    if (a.kind === 'gcp-confidential-space' && !s.audience)
      issue(['service', 'audience'], 'required: the custom audience the workload asks tokens for');
    if (a.kind === 'ear' && (s.publicKey === undefined) === (s.jwksUrl === undefined))
      issue(['service'], 'set exactly one of publicKey and jwksUrl (the verifier that signs the results)');
  });

export type AttestationConfig = z.infer<typeof attestation>;
