// Evidence verifier for Microsoft Azure Attestation (MAA) tokens: RS256 JWTs issued by an
// attestation provider (e.g. https://sharedeus2.eus2.attest.azure.net) after it appraised a
// confidential VM's hardware report.
//
// Two token shapes are accepted (claim names as in Microsoft's samples, see
// test/fixtures/attestation/SOURCE.md):
//  - Azure CVM guest attestation (`/attest/AzureGuest`): `x-ms-attestation-type: azurevm`, the
//    TEE's claims in `x-ms-isolation-tee` (`x-ms-attestation-type: sevsnpvm | tdxvm`,
//    `x-ms-compliance-status`, `x-ms-sevsnpvm-*`), `secureboot`, and the caller's data in
//    `x-ms-runtime.client-payload`;
//  - direct SEV-SNP / TDX attestation (`/attest/SevSnpVm`, `/attest/TdxVm`): the TEE's claims at
//    the top level and the runtime data (JSON) as `x-ms-runtime`.
// The runtime data carries `nonce`: the ztgate binding of challenge nonce and TLS key
// (jwt-evidence.ts), base64 or base64url.
//
// Keys come from the pinned provider's `/certs` (a JWKS whose keys hold only `x5c`; normalized in
// jwt-evidence.ts) or from a pinned JWKS; the token's `jku` is tolerated only when it names that
// same URL and is never fetched.
//
// Checks, in order: header and signature; iss (pinned), aud (if configured), exp/nbf/iat; TEE type
// allowed; nonce/TLS-key binding; debug off (`x-ms-sevsnpvm-is-debuggable`,
// `tdx_td_attributes_debug`, the guest's boot/kernel/hypervisor debug flags); launch measurement
// (SEV-SNP) or MRTD (TDX) approved; compliance status; secure boot; SEV-SNP host data, key
// digests, VMPL, migration agent, guest SVN (reference.sevSnp); TCB minimums.
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import {
  checkAlgorithms,
  checkBindingNonces,
  checkMinTcb,
  expiresAtMs,
  failer,
  type Fail,
  isApproved,
  isRecord,
  normalizeDigest,
  normalizeJwks,
  remoteJwks,
  verifyJwtEvidence,
  type JwksFetchOptions,
  type JwtKeySource,
} from './jwt-evidence.js';
import type { EvidenceVerifier, ExpectedBinding, ReferenceValues, Verdict } from './types.js';

const fail: Fail = failer('azure-attestation');

const TEE_TYPES = ['sevsnpvm', 'tdxvm'] as const;
type TeeType = (typeof TEE_TYPES)[number];
const GUEST_DEBUG_FLAGS = [
  'x-ms-azurevm-bootdebug-enabled',
  'x-ms-azurevm-kerneldebug-enabled',
  'x-ms-azurevm-hypervisordebug-enabled',
] as const;
const SNP_SVNS = {
  bootloader: 'x-ms-sevsnpvm-bootloader-svn',
  tee: 'x-ms-sevsnpvm-tee-svn',
  snp: 'x-ms-sevsnpvm-snpfw-svn',
  microcode: 'x-ms-sevsnpvm-microcode-svn',
} as const;

export interface AzureAttestationVerifierOptions {
  /** The attestation provider's URL, exactly as the tokens' `iss`. */
  issuer: string;
  /** Where its signing keys are. Default `${issuer}/certs`. */
  jwksUrl?: string;
  /** A pinned JWKS instead of fetching (MAA's `x5c`-only form is accepted). */
  jwks?: JSONWebKeySet;
  /** Required `aud`, when tokens are requested with one. Default: not checked. */
  audience?: string | readonly string[];
  /** Default ['RS256'] (what MAA signs with). */
  algorithms?: readonly string[];
  /** Tolerated clock difference, seconds. Default 60. */
  clockSkewSeconds?: number;
  fetch?: JwksFetchOptions;
}

function str(tee: Record<string, unknown>, claim: string): string {
  const v = tee[claim];
  if (typeof v !== 'string') fail('malformed_evidence', `${claim} is missing or not a string`);
  return v;
}

function bool(tee: Record<string, unknown>, claim: string): boolean {
  const v = tee[claim];
  if (typeof v !== 'boolean') fail('malformed_evidence', `${claim} is missing or not a boolean`);
  return v;
}

function hexAllowed(list: readonly string[] | undefined, tee: Record<string, unknown>, claim: string): void {
  if (list === undefined) return;
  const v = tee[claim];
  if (typeof v !== 'string' || !isApproved(list, v)) fail('measurement_mismatch', `${claim} is not approved`);
}

export class AzureAttestationVerifier implements EvidenceVerifier {
  readonly kind = 'azure-attestation' as const;
  private readonly options: AzureAttestationVerifierOptions;
  private readonly key: JwtKeySource;
  private readonly algorithms: readonly string[];
  private readonly allowedJku: readonly string[];

  constructor(options: AzureAttestationVerifierOptions) {
    const issuer = options.issuer.replace(/\/+$/, '');
    this.options = { ...options, issuer };
    this.algorithms = checkAlgorithms(options.algorithms ?? ['RS256'], this.kind);
    const jwksUrl = options.jwksUrl ?? `${issuer}/certs`;
    this.key = options.jwks
      ? createLocalJWKSet(normalizeJwks(options.jwks) as JSONWebKeySet)
      : remoteJwks(jwksUrl, options.fetch);
    this.allowedJku = [`${issuer}/certs`, jwksUrl];
  }

  async verify(
    evidence: Uint8Array | string,
    expected: ExpectedBinding,
    reference: ReferenceValues,
  ): Promise<Verdict> {
    const { payload } = await verifyJwtEvidence(evidence, expected, {
      kind: this.kind,
      key: this.key,
      algorithms: this.algorithms,
      issuer: this.options.issuer,
      ...(this.options.audience !== undefined ? { audience: this.options.audience } : {}),
      allowedJku: this.allowedJku,
      requiredClaims: ['exp', 'iat'],
      clockSkewSeconds: this.options.clockSkewSeconds ?? 60,
    });
    const azure = reference.azure ?? {};

    const topType = str(payload, 'x-ms-attestation-type');
    const guest = topType === 'azurevm';
    const teeClaims = guest ? payload['x-ms-isolation-tee'] : payload;
    if (!isRecord(teeClaims)) fail('malformed_evidence', 'azurevm token without x-ms-isolation-tee');
    const tee: Record<string, unknown> = teeClaims;
    const teeType = str(tee, 'x-ms-attestation-type');
    if (!(TEE_TYPES as readonly string[]).includes(teeType)) {
      fail('unsupported', `attestation type ${teeType} is not a confidential VM (sevsnpvm, tdxvm)`);
    }
    const type = teeType as TeeType;
    if (!(azure.attestationTypes ?? TEE_TYPES).includes(type)) {
      fail('policy_violation', `attestation type ${type} is not allowed`);
    }

    const runtime = payload['x-ms-runtime'];
    const client =
      isRecord(runtime) && isRecord(runtime['client-payload']) ? runtime['client-payload'] : runtime;
    checkBindingNonces(
      isRecord(client) ? client.nonce : undefined,
      expected,
      this.kind,
      'x-ms-runtime nonce',
    );

    const teeDebug = bool(
      tee,
      type === 'sevsnpvm' ? 'x-ms-sevsnpvm-is-debuggable' : 'tdx_td_attributes_debug',
    );
    const guestDebug = GUEST_DEBUG_FLAGS.filter((f) => payload[f] === true);
    if ((teeDebug || guestDebug.length > 0) && reference.allowDebug !== true) {
      fail('debug_enabled', teeDebug ? `the ${type} guest is debuggable` : `${guestDebug.join(', ')} set`);
    }

    const measurementClaim = type === 'sevsnpvm' ? 'x-ms-sevsnpvm-launchmeasurement' : 'tdx_mrtd';
    const measurement = str(tee, measurementClaim);
    if (!isApproved(reference.measurements, measurement)) {
      fail('measurement_mismatch', `${measurementClaim} ${measurement} is not approved`);
    }

    const compliance = tee['x-ms-compliance-status'] ?? payload['x-ms-compliance-status'];
    const allowedCompliance = azure.complianceStatus ?? ['azure-compliant-cvm'];
    const complianceOk = typeof compliance === 'string' && allowedCompliance.includes(compliance);
    if (allowedCompliance.length > 0 && !complianceOk) {
      fail('policy_violation', `compliance status ${JSON.stringify(compliance)} is not allowed`);
    }
    if (guest && azure.requireSecureBoot !== false && payload.secureboot !== true) {
      fail('policy_violation', 'secure boot is off');
    }

    const tcb: Record<string, number> = {};
    const policy: Record<string, string | number | boolean> = {};
    if (type === 'sevsnpvm') {
      const snp = reference.sevSnp ?? {};
      hexAllowed(snp.hostData, tee, 'x-ms-sevsnpvm-hostdata');
      hexAllowed(snp.idKeyDigests, tee, 'x-ms-sevsnpvm-idkeydigest');
      hexAllowed(snp.authorKeyDigests, tee, 'x-ms-sevsnpvm-authorkeydigest');
      const vmpl = tee['x-ms-sevsnpvm-vmpl'];
      if (typeof vmpl === 'number') policy.vmpl = vmpl;
      if (snp.vmpl !== undefined && (typeof vmpl !== 'number' || !snp.vmpl.includes(vmpl))) {
        fail('policy_violation', `report requested at VMPL ${String(vmpl)}`);
      }
      const migration = tee['x-ms-sevsnpvm-migration-allowed'];
      if (typeof migration === 'boolean') policy.migrateMa = migration;
      if (migration !== false && snp.allowMigrationAgent !== true) {
        fail('policy_violation', 'guest policy allows (or does not deny) a migration agent');
      }
      const smt = tee['x-ms-sevsnpvm-smt-allowed'];
      if (typeof smt === 'boolean') policy.smt = smt;
      policy.debug = teeDebug;
      const guestSvn = tee['x-ms-sevsnpvm-guestsvn'];
      if (snp.minGuestSvn !== undefined && (typeof guestSvn !== 'number' || guestSvn < snp.minGuestSvn)) {
        fail('tcb_too_old', `guest SVN ${String(guestSvn)}, minimum ${snp.minGuestSvn}`);
      }
      for (const [component, claim] of Object.entries(SNP_SVNS)) {
        const v = tee[claim];
        if (typeof v === 'number') tcb[component] = v;
      }
    } else {
      const seam = tee.tdx_seamsvn;
      if (typeof seam === 'number') tcb.seam = seam;
      policy.debug = teeDebug;
    }
    checkMinTcb(tcb, reference, this.kind);

    const optional = (claim: string, from: Record<string, unknown> = tee): Record<string, unknown> =>
      typeof from[claim] === 'string' ? { [claim]: from[claim] } : {};
    const verdict: Verdict = {
      ok: true,
      kind: this.kind,
      measurement: normalizeDigest(measurement),
      hardware: true,
      verifiedAt: expected.now,
      claims: {
        debug: teeDebug || guestDebug.length > 0,
        tcb,
        policy,
        issuer: this.options.issuer,
        attestationType: type,
        azureVm: guest,
        complianceStatus: compliance,
        ...(guest ? { secureBoot: payload.secureboot === true } : {}),
        ...optional('x-ms-ver', payload),
        ...optional('x-ms-policy-hash', payload),
        ...optional('x-ms-azurevm-vmid', payload),
        ...optional('x-ms-sevsnpvm-hostdata'),
        ...optional('x-ms-sevsnpvm-idkeydigest'),
        ...optional('x-ms-sevsnpvm-reportdata'),
        ...optional('tdx_report_data'),
      },
    };
    const exp = expiresAtMs(payload);
    if (exp !== undefined) verdict.expiresAt = exp;
    return verdict;
  }
}
