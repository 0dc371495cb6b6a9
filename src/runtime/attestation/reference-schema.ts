// The reference values an attested runtime is matched against, as config (`upstreams.<n>.attestation`)
// and the signed policy bundle (`runtimes.json`) write them. Shared so both accept the same shape.
import { z } from 'zod';

/** Hex digests: 16 to 64 bytes (dev: 32-byte manifest digests; sev-snp and tdx: 48-byte measurements). */
export const hexDigest = z
  .string()
  .regex(/^(?:[0-9a-fA-F]{2}){16,64}$/, 'must be a hex digest (16 to 64 bytes)')
  .transform((hex) => hex.toLowerCase());
export const hexList = z.array(hexDigest).min(1).max(256);
const names = z.array(z.string().min(1).max(128)).max(64);

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

const u64Mask = z.strictObject({
  mask: z.string().regex(/^[0-9a-fA-F]{1,16}$/),
  value: z.string().regex(/^[0-9a-fA-F]{1,16}$/),
});

/** TDX reference values beyond MRTD (types.ts TdxReference). */
const tdx = z.strictObject({
  rtmr0: hexList.optional(),
  rtmr1: hexList.optional(),
  rtmr2: hexList.optional(),
  rtmr3: hexList.optional(),
  mrConfigId: hexList.optional(),
  mrOwner: hexList.optional(),
  mrOwnerConfig: hexList.optional(),
  mrSeam: hexList.optional(),
  tdAttributes: u64Mask.optional(),
  xfam: u64Mask.optional(),
  acceptedTcbStatuses: names.optional(),
  /** Refuse quotes when no collateral is configured (the TCB status would be unknown). */
  requireCollateral: z.boolean().optional(),
});

const azure = z.strictObject({
  attestationTypes: z
    .array(z.enum(['sevsnpvm', 'tdxvm']))
    .min(1)
    .optional(),
  complianceStatus: names.optional(),
  requireSecureBoot: z.boolean().optional(),
});

const gcpConfidentialSpace = z.strictObject({
  hwModels: names.optional(),
  supportAttributes: names.optional(),
  serviceAccounts: names.optional(),
  requireSecureBoot: z.boolean().optional(),
});

const ear = z.strictObject({
  submods: names.optional(),
  allowWarning: z.boolean().optional(),
  verifierIds: z
    .array(z.strictObject({ developer: z.string().min(1), build: z.string().min(1).optional() }))
    .optional(),
  measurementPath: names.optional(),
  debugPath: names.optional(),
  requireHardware: z.boolean().optional(),
  maxAgeSeconds: z.number().int().min(1).max(86_400).optional(),
});

/** The fields of reference values that hold no secret: config and bundle alike. */
export const referenceFields = {
  /** Approved measurements: weights manifest digests (dev), launch measurements (sev-snp), MRTD (tdx), image digests (tokens). */
  measurements: hexList,
  /** Accept debug-enabled workloads (test environments only). */
  allowDebug: z.boolean().default(false),
  /** Minimum security versions by component (sev-snp: bootloader, tee, snp, microcode). */
  minTcb: z.record(z.string().min(1).max(64), z.number().int().min(0)).optional(),
  sevSnp: sevSnp.optional(),
  tdx: tdx.optional(),
  azure: azure.optional(),
  gcpConfidentialSpace: gcpConfidentialSpace.optional(),
  ear: ear.optional(),
};

/**
 * A policy bundle's `runtimes.json`: reference values per upstream id. They replace the fields of
 * the upstream's configured ones they name (a pinned dev key stays in config: it is a file).
 */
export const bundleRuntimesSchema = z.strictObject({
  upstreams: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), z.strictObject(referenceFields)),
});

export type BundleRuntimeReference = z.infer<typeof bundleRuntimesSchema>['upstreams'][string];
