import { z } from 'zod';
import { duration, secretRef } from './schema-primitives.js';

/**
 * `upstreams.<name>.attestation` (docs/RUNTIME-TRUST.md): the runtime behind the upstream must
 * prove what it runs (evidence from its agent, POST /attest over the upstream's mutual TLS)
 * before it gets traffic. Needs `mtls` on the same upstream (checked in schema.ts).
 */

/** Hex digests: 16 to 64 bytes (dev: 32-byte manifest digests; sev-snp and tdx: 48-byte measurements). */
const hexDigest = z
  .string()
  .regex(/^(?:[0-9a-fA-F]{2}){16,64}$/, 'must be a hex digest (16 to 64 bytes)')
  .transform((hex) => hex.toLowerCase());
const hexList = z.array(hexDigest).min(1).max(256);
const names = z.array(z.string().min(1).max(128)).max(64);

export const EVIDENCE_KINDS = [
  'dev',
  'sev-snp',
  'tdx',
  'azure-attestation',
  'gcp-confidential-space',
  'ear',
] as const;
const TOKEN_KINDS: readonly string[] = ['azure-attestation', 'gcp-confidential-space', 'ear'];

/** SEV-SNP launch reference values beyond the measurement (types.ts SevSnpReference). */
const sevSnp = z.strictObject({
  minGuestSvn: z.number().int().min(0).optional(),
  hostData: hexList.optional(),
  idKeyDigests: hexList.optional(),
  authorKeyDigests: hexList.optional(),
  vmpl: z.array(z.number().int().min(0).max(3)).min(1).optional(),
  allowMigrationAgent: z.boolean().optional(),
  products: z
    .array(z.enum(['Milan', 'Genoa']))
    .min(1)
    .optional(),
});

/** TDX reference values beyond MRTD. */
const tdx = z.strictObject({
  rtmr0: hexList.optional(),
  rtmr1: hexList.optional(),
  rtmr2: hexList.optional(),
  rtmr3: hexList.optional(),
  mrConfigId: hexList.optional(),
  mrOwner: hexList.optional(),
  /** Intel PCS collateral (TCB info, QE identity JSON; CRLs, DER) files; absent: the TCB level is not evaluated. */
  collateral: z
    .strictObject({
      tcbInfo: z.string().min(1),
      qeIdentity: z.string().min(1),
      pckCrl: z.string().min(1).optional(),
      rootCrl: z.string().min(1).optional(),
    })
    .optional(),
  acceptedTcbStatuses: names.optional(),
});

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
    /** Approved measurements: weights manifest digests (dev), launch measurements (sev-snp), MRTD (tdx), image digests (tokens). */
    measurements: hexList,
    /** Accept debug-enabled workloads (test environments only). */
    allowDebug: z.boolean().default(false),
    /** Minimum security versions by component (sev-snp: bootloader, tee, snp, microcode). */
    minTcb: z.record(z.string().min(1).max(64), z.number().int().min(0)).optional(),
    /** `dev` evidence: the agent's public key (SPKI PEM), pinned. */
    dev: z.strictObject({ publicKey: secretRef }).optional(),
    sevSnp: sevSnp.optional(),
    tdx: tdx.optional(),
    /** Token kinds: the attestation service. */
    service: service.optional(),
    azure: z
      .strictObject({
        attestationTypes: z
          .array(z.enum(['sevsnpvm', 'tdxvm']))
          .min(1)
          .optional(),
        complianceStatus: names.optional(),
        requireSecureBoot: z.boolean().optional(),
      })
      .optional(),
    gcpConfidentialSpace: z
      .strictObject({
        hwModels: names.optional(),
        supportAttributes: names.optional(),
        serviceAccounts: names.optional(),
        requireSecureBoot: z.boolean().optional(),
      })
      .optional(),
    ear: z
      .strictObject({
        submods: names.optional(),
        allowWarning: z.boolean().optional(),
        verifierIds: z
          .array(z.strictObject({ developer: z.string().min(1), build: z.string().min(1).optional() }))
          .optional(),
        measurementPath: names.optional(),
        debugPath: names.optional(),
        requireHardware: z.boolean().optional(),
        maxAgeSeconds: z.number().int().min(1).max(86_400).optional(),
      })
      .optional(),
  })
  .superRefine((a, ctx) => {
    const issue = (path: string[], message: string): void => ctx.addIssue({ code: 'custom', path, message });
    if (a.kind === 'dev' && !a.dev)
      issue(['dev', 'publicKey'], 'required with kind dev (the agent public key to pin, file:PATH)');
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
