// The contract every evidence verifier implements: one file per evidence kind (sev-snp.ts, and
// later dev.ts, azure-attestation.ts, gcp-confidential-space.ts, ear.ts, tdx.ts). A verifier
// either returns a Verdict (everything it was asked to check held) or throws an AttestationError
// with a stable code. It never returns a partial or "ok: false" verdict: callers fail closed.

/** The evidence formats ztgate knows. `dev` is a software key with no hardware root. */
export type EvidenceKind = 'dev' | 'sev-snp' | 'azure-attestation' | 'gcp-confidential-space' | 'ear' | 'tdx';

/**
 * Stable error codes (they reach logs, audit entries and metrics; never rename one).
 * - signature_invalid: the evidence's own signature (report, quote, JWT) does not verify.
 * - chain_invalid: the signing key does not chain to a pinned root, or its certificate does not
 *   describe this evidence (chip id, TCB), or the certificate is the wrong kind of key.
 * - nonce_mismatch: the evidence does not carry the challenge's nonce.
 * - key_binding_mismatch: the evidence binds another TLS key than the peer's (or binds one when
 *   none was expected).
 * - measurement_mismatch: launch measurement (or image digest, host data, ID key) not approved.
 * - debug_enabled: the workload runs with debugging allowed (its memory is readable by the host).
 * - tcb_too_old: firmware/microcode/guest security versions below the reference minimum.
 * - policy_violation: another launch-policy field (VMPL, migration agent, ...) not allowed.
 * - malformed_evidence: cannot be parsed, wrong size, reserved fields set.
 * - expired: the evidence (token) or a certificate it depends on is outside its validity at `now`.
 * - unsupported: a well-formed format or algorithm this verifier does not implement.
 */
export type AttestationErrorCode =
  | 'signature_invalid'
  | 'chain_invalid'
  | 'nonce_mismatch'
  | 'key_binding_mismatch'
  | 'measurement_mismatch'
  | 'debug_enabled'
  | 'tcb_too_old'
  | 'policy_violation'
  | 'malformed_evidence'
  | 'expired'
  | 'unsupported';

export class AttestationError extends Error {
  override readonly name = 'AttestationError';
  constructor(
    readonly code: AttestationErrorCode,
    message: string,
    readonly kind?: EvidenceKind,
  ) {
    super(`${code}: ${message}`);
  }
}

export function isAttestationError(e: unknown, code?: AttestationErrorCode): e is AttestationError {
  return e instanceof AttestationError && (code === undefined || e.code === code);
}

/** What the verifier (the gateway) knows independently of the evidence. */
export interface ExpectedBinding {
  /** The fresh challenge nonce the gateway sent; freshness of hardware reports comes from it alone. */
  nonce: Uint8Array;
  /**
   * Digest of the public key the runtime presented in mTLS (SHA-256 over the DER SubjectPublicKeyInfo).
   * Absent: the evidence must not bind any key.
   */
  tlsKeyDigest?: Uint8Array;
  /** Verification time, ms since the epoch (certificate validity, token expiry). */
  now: number;
}

/** SEV-SNP specific reference values (all optional: absent means "not checked"). */
export interface SevSnpReference {
  /** Minimum guest SVN (set by the guest owner in the ID block). */
  minGuestSvn?: number;
  /** Allowed HOST_DATA values (hex, 32 bytes). */
  hostData?: readonly string[];
  /** Allowed ID_KEY_DIGEST values (hex, 48 bytes): who signed the ID block. */
  idKeyDigests?: readonly string[];
  /** Allowed AUTHOR_KEY_DIGEST values (hex, 48 bytes). */
  authorKeyDigests?: readonly string[];
  /** Allowed VMPLs at which the report was requested (e.g. [0]). */
  vmpl?: readonly number[];
  /** Allow a migration agent (policy bit 18). Default false. */
  allowMigrationAgent?: boolean;
  /** AMD products accepted (default: all bundled, i.e. Milan and Genoa). */
  products?: readonly string[];
}

/**
 * Reference values a runtime's evidence is matched against (from config or the signed policy
 * bundle). The generic fields apply to every kind; per-kind sections hold what only one kind has.
 */
export interface ReferenceValues {
  /**
   * Approved measurements, lowercase or uppercase hex (SEV-SNP: the 48-byte launch MEASUREMENT;
   * TDX: MRTD; JWT services: the image digest claim). Empty: nothing is approved.
   */
  measurements: readonly string[];
  /** Accept debug-enabled workloads (only for test environments). Default false. */
  allowDebug?: boolean;
  /**
   * Minimum security versions by component name, e.g. SEV-SNP `{ bootloader: 3, tee: 0, snp: 8,
   * microcode: 115 }`. Components not named are not checked; a named component the evidence
   * lacks fails.
   */
  minTcb?: Readonly<Record<string, number>>;
  sevSnp?: SevSnpReference;
  /** `dev` evidence: the agent's pinned key and the approved agent/config digests (dev.ts). */
  dev?: DevReference;
  /** Microsoft Azure Attestation tokens (azure-attestation.ts). */
  azure?: AzureAttestationReference;
  /** Google Confidential Space tokens (gcp-confidential-space.ts). */
  gcpConfidentialSpace?: GcpConfidentialSpaceReference;
  /** IETF RATS EAT Attestation Results (ear.ts). */
  ear?: EarReference;
  /** Intel TDX quotes (tdx.ts). */
  tdx?: TdxReference;
}

/** Intel TDX specific reference values (`measurements` = MRTD). */
export interface TdxReference {
  /** Allowed RTMR values (hex, 48 bytes), per register. */
  rtmr0?: readonly string[];
  rtmr1?: readonly string[];
  rtmr2?: readonly string[];
  rtmr3?: readonly string[];
  /** Allowed MRCONFIGID / MROWNER / MROWNERCONFIG values (hex, 48 bytes). */
  mrConfigId?: readonly string[];
  mrOwner?: readonly string[];
  mrOwnerConfig?: readonly string[];
  /** Allowed TDX module measurements MRSEAM (hex, 48 bytes). */
  mrSeam?: readonly string[];
  /** (TD_ATTRIBUTES & mask) must equal value; u64 as hex (e.g. mask "10000000", value "10000000": SEPT_VE_DISABLE set). */
  tdAttributes?: { mask: string; value: string };
  /** (XFAM & mask) must equal value; u64 as hex. */
  xfam?: { mask: string; value: string };
  /** TCB statuses accepted besides 'UpToDate' (e.g. 'SWHardeningNeeded'); 'Revoked' never is. */
  acceptedTcbStatuses?: readonly string[];
  /** Refuse verification without collateral (TCB status unknown). Default false. */
  requireCollateral?: boolean;
}

/**
 * `dev` evidence (no hardware root). `measurements` holds the approved weights (manifest) digests;
 * this section pins the runtime's key and, optionally, the agent code and config digests.
 */
export interface DevReference {
  /** The agent's public key (pinned per runtime): a JWK object or an SPKI PEM (Ed25519 or P-256). */
  publicKey: Readonly<Record<string, unknown>> | string;
  /** Expected `sub` (the agent's SPIFFE ID). Absent: not checked. */
  spiffeId?: string;
  /** Approved agent code digests (hex). Absent: not checked. */
  agentDigests?: readonly string[];
  /** Approved config digests (hex). Absent: not checked. */
  configDigests?: readonly string[];
  /** Maximum age of the evidence (from `iat`), seconds. Default 300. */
  maxAgeSeconds?: number;
}

/** Azure Attestation (MAA) specific reference values; SEV-SNP fields also use `sevSnp`. */
export interface AzureAttestationReference {
  /** Allowed TEE attestation types. Default ['sevsnpvm', 'tdxvm']. */
  attestationTypes?: readonly ('sevsnpvm' | 'tdxvm')[];
  /** Allowed `x-ms-compliance-status` values. Default ['azure-compliant-cvm']; [] = not checked. */
  complianceStatus?: readonly string[];
  /** Require `secureboot: true` in Azure VM (vTPM guest) tokens. Default true. */
  requireSecureBoot?: boolean;
}

/** Google Confidential Space specific reference values (`measurements` = image digests). */
export interface GcpConfidentialSpaceReference {
  /** Allowed `hwmodel` values. Default ['GCP_AMD_SEV', 'GCP_AMD_SEV_SNP', 'GCP_INTEL_TDX']. */
  hwModels?: readonly string[];
  /** Support attributes that must all be present. Default ['STABLE'] (supported, monitored image). */
  supportAttributes?: readonly string[];
  /** At least one of these must be in `google_service_accounts`. Absent: not checked. */
  serviceAccounts?: readonly string[];
  /** Require `secboot: true`. Default true. */
  requireSecureBoot?: boolean;
}

/** EAR (EAT Attestation Result) specific reference values. */
export interface EarReference {
  /** Submodules that must be present (every present one must be affirming). Absent: any. */
  submods?: readonly string[];
  /** Accept `ear.status` "warning" too. Default false (only "affirming"). */
  allowWarning?: boolean;
  /** Accepted verifiers (`ear.verifier-id`); `build` absent matches any build. Absent: any. */
  verifierIds?: readonly { developer: string; build?: string }[];
  /**
   * Where the measurement sits inside a submodule (a key path; keys may contain dots). Default:
   * the CoCo Trustee shapes `ear.veraison.annotated-evidence` → `snp.measurement` or
   * `tdx.quote.body.mr_td`.
   */
  measurementPath?: readonly string[];
  /** A boolean claim (key path inside a submodule) that is true when the TEE is debuggable. */
  debugPath?: readonly string[];
  /** Require the `hardware` trustworthiness claim to be affirming. Default false. */
  requireHardware?: boolean;
  /** Maximum age from `iat` (EARs often carry no `exp`), seconds. Default 600. */
  maxAgeSeconds?: number;
}

export interface VerdictClaims {
  /** Whether the workload could be debugged (always false in a Verdict unless allowDebug). */
  debug: boolean;
  /** The security versions the evidence attests, by component. */
  tcb: Readonly<Record<string, number>>;
  /** The launch policy as the evidence states it. */
  policy: Readonly<Record<string, string | number | boolean>>;
  /** Kind-specific claims (hex strings, numbers, booleans). */
  readonly [claim: string]: unknown;
}

export interface Verdict {
  ok: true;
  kind: EvidenceKind;
  /** The matched measurement, lowercase hex. */
  measurement: string;
  claims: VerdictClaims;
  /** True only when a hardware root (AMD, Intel, a cloud attestation service) vouches for it. */
  hardware: boolean;
  /**
   * When the evidence itself stops being valid (a token's exp), ms since the epoch. Hardware
   * reports carry no time: their freshness is the nonce, and the caller's freshness window applies.
   */
  expiresAt?: number;
  /** `now` of the verification. */
  verifiedAt: number;
}

export interface EvidenceVerifier {
  readonly kind: EvidenceKind;
  verify(
    evidence: Uint8Array | string,
    expected: ExpectedBinding,
    reference: ReferenceValues,
  ): Promise<Verdict>;
}
