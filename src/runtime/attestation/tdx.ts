// Evidence verifier for Intel TDX ECDSA quotes (v4, and v5 with a TDX 1.0 or 1.5 body).
//
// Evidence: the raw quote bytes (as the guest's TDX quote interface returns them), or a string
// holding them in base64. The PCK certificate chain comes from the quote (certification data
// type 6 → 5); its root is never trusted: the bundled Intel SGX Root CA (intel-pcs.ts) is.
//
// Checks, in order:
//  1. structure: version 4/5, attestation key type 2 (ECDSA P-256), TEE type 0x81, Intel QE,
//     exact sizes (malformed_evidence / unsupported);
//  2. PCK leaf ← PCK Platform/Processor CA ← pinned Intel SGX Root CA, validity at `now`
//     (chain_invalid / expired);
//  3. the QE report's ECDSA P-256/SHA-256 signature by the PCK key (signature_invalid);
//  4. the QE report binds the attestation key: REPORTDATA = SHA-256(attestation key ‖ QE auth
//     data) ‖ 32 zero bytes (signature_invalid: the quote signature cannot be attributed to the
//     QE otherwise);
//  5. the quote signature over header ‖ body by the attestation key (signature_invalid);
//  6. REPORTDATA of the TD binds the nonce and TLS key (binding.ts; nonce_mismatch /
//     key_binding_mismatch);
//  7. TD_ATTRIBUTES.DEBUG (bit 0) off unless reference.allowDebug (debug_enabled);
//  8. MRTD ∈ reference.measurements, and the optional TdxReference values (measurement_mismatch;
//     attribute/XFAM masks: policy_violation);
//  9. TCB: reference.minTcb by component (names below; tcb_too_old); with `options.collateral`:
//     PCK CRL / root CRL (chain_invalid when revoked), TCB info and QE identity signatures and
//     dates, QE identity match (chain_invalid), TDX TCB level and QE TCB level statuses
//     (tcb_too_old unless 'UpToDate' or listed in TdxReference.acceptedTcbStatuses; 'Revoked' is
//     never accepted; no matching level → tcb_too_old).
// A quote carries no time: freshness is the nonce alone.
//
// minTcb component names: tee_tcb_svn_0 .. tee_tcb_svn_15 (TEE_TCB_SVN bytes of the TD report),
// sgx_tcb_comp_svn_1 .. sgx_tcb_comp_svn_16 and pce_svn (the PCK certificate's SGX extension,
// i.e. the platform's SGX TCB as Intel certified it), qe_svn (the QE report's ISVSVN).
import { ZTGATE_BINDING_V1, type ReportDataBinding } from './binding.js';
import {
  bundledIntelRoot,
  checkNotRevoked,
  QeIdentitySchema,
  TdxTcbInfoSchema,
  verifyCrl,
  verifyPckChain,
  verifySignedCollateral,
  type PckInfo,
  type QeIdentity,
  type TdxTcbInfo,
} from './intel-pcs.js';
import {
  parseTdxQuote,
  tdAttributesValue,
  TD_ATTRIBUTE_DEBUG,
  TD_ATTRIBUTE_SEPT_VE_DISABLE,
  verifyQuoteSignatures,
  type TdxQuote,
} from './tdx-quote.js';
import {
  AttestationError,
  type AttestationErrorCode,
  type EvidenceVerifier,
  type ExpectedBinding,
  type ReferenceValues,
  type TdxReference,
  type Verdict,
} from './types.js';

export type { TdxReference };

/** TDX specific reference values (all optional: absent means "not checked"). */

/** Intel PCS responses, fetched (and cached) by the caller. */
export interface TdxCollateral {
  /** The body of GET /tdx/certification/v4/tcb?fmspc=… as received (exact bytes: it is signed). */
  tcbInfo: string;
  /** The body of GET /tdx/certification/v4/qe/identity as received. */
  qeIdentity: string;
  /** The `TCB-Info-Issuer-Chain` header (URL-decoded PEM): Intel SGX TCB Signing [, root]. */
  tcbSigningChain: string;
  /** PCK CRL (DER or PEM) issued by the quote's PCK CA (platform or processor). */
  pckCrl?: Uint8Array | string;
  /** Intel SGX Root CA CRL (DER or PEM). */
  rootCrl?: Uint8Array | string;
}

export interface TdxVerifierOptions {
  /** How REPORTDATA binds nonce and TLS key. Default ZTGATE_BINDING_V1. */
  binding?: ReportDataBinding;
  /** Collateral for TCB evaluation; a function lets the caller pick it by FMSPC. */
  collateral?: TdxCollateral | ((fmspc: string) => TdxCollateral | undefined);
}

function fail(code: AttestationErrorCode, message: string): never {
  throw new AttestationError(code, message, 'tdx');
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const u64hex = (b: Uint8Array): string => Buffer.from(b).readBigUInt64LE(0).toString(16).padStart(16, '0');

function decodeEvidence(evidence: Uint8Array | string): Uint8Array {
  if (typeof evidence !== 'string') return evidence;
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(evidence.trim()))
    fail('malformed_evidence', 'evidence string is not base64');
  return Buffer.from(evidence.trim(), 'base64');
}

function allowed(list: readonly string[] | undefined, value: Uint8Array): boolean {
  if (list === undefined) return true;
  const v = hex(value);
  return list.some((x) => x.toLowerCase() === v);
}

function masked(rule: { mask: string; value: string } | undefined, field: Uint8Array): boolean {
  if (!rule) return true;
  const v = Buffer.from(field).readBigUInt64LE(0);
  return (v & BigInt(`0x${rule.mask}`)) === BigInt(`0x${rule.value}`);
}

/** The TCB components named for reference.minTcb. */
export function tdxTcbComponents(
  quote: TdxQuote,
  pck: Pick<PckInfo, 'pceSvn' | 'sgxTcbCompSvns'>,
): Record<string, number> {
  const tcb: Record<string, number> = {};
  quote.body.teeTcbSvn.forEach((v, i) => (tcb[`tee_tcb_svn_${i}`] = v));
  pck.sgxTcbCompSvns.forEach((v, i) => (tcb[`sgx_tcb_comp_svn_${i + 1}`] = v));
  tcb.pce_svn = pck.pceSvn;
  tcb.qe_svn = quote.qeReport.isvSvn;
  return tcb;
}

/** Steps 6–8 and minTcb on a parsed (and already signature-checked) quote. */
export function checkTdxQuote(
  quote: TdxQuote,
  tcb: Readonly<Record<string, number>>,
  expected: ExpectedBinding,
  reference: ReferenceValues,
  binding: ReportDataBinding = ZTGATE_BINDING_V1,
): void {
  const tdx = reference.tdx ?? {};
  const b = quote.body;
  binding.check(b.reportData, expected, 'tdx');
  if ((tdAttributesValue(b) & TD_ATTRIBUTE_DEBUG) !== 0n && reference.allowDebug !== true) {
    fail('debug_enabled', 'TD_ATTRIBUTES.DEBUG is set');
  }
  if (!allowed(reference.measurements, b.mrTd))
    fail('measurement_mismatch', `MRTD ${hex(b.mrTd)} is not approved`);
  const regs: [string, readonly string[] | undefined, Uint8Array][] = [
    ['RTMR0', tdx.rtmr0, b.rtmr[0]],
    ['RTMR1', tdx.rtmr1, b.rtmr[1]],
    ['RTMR2', tdx.rtmr2, b.rtmr[2]],
    ['RTMR3', tdx.rtmr3, b.rtmr[3]],
    ['MRCONFIGID', tdx.mrConfigId, b.mrConfigId],
    ['MROWNER', tdx.mrOwner, b.mrOwner],
    ['MROWNERCONFIG', tdx.mrOwnerConfig, b.mrOwnerConfig],
    ['MRSEAM', tdx.mrSeam, b.mrSeam],
  ];
  for (const [name, list, value] of regs) {
    if (!allowed(list, value)) fail('measurement_mismatch', `${name} ${hex(value)} is not approved`);
  }
  if (!masked(tdx.tdAttributes, b.tdAttributes))
    fail('policy_violation', `TD_ATTRIBUTES ${u64hex(b.tdAttributes)} not allowed`);
  if (!masked(tdx.xfam, b.xfam)) fail('policy_violation', `XFAM ${u64hex(b.xfam)} not allowed`);
  for (const [component, min] of Object.entries(reference.minTcb ?? {})) {
    const have = tcb[component];
    if (have === undefined || have < min)
      fail('tcb_too_old', `TCB ${component}=${have ?? 'absent'}, minimum ${min}`);
  }
}

export interface TcbStatus {
  status: string;
  tcbDate?: string;
  advisoryIds: readonly string[];
}

const eqHex = (a: string, b: Uint8Array): boolean => a.toLowerCase() === Buffer.from(b).toString('hex');

/**
 * The TDX TCB level for this platform (Intel's algorithm, see the go-tdx-guest testdata README):
 * the first level whose SGX comp SVNs and PCESVN the PCK certificate meets and whose TDX comp SVNs
 * TEE_TCB_SVN meets; its TDX SVN at index 1 must equal TEE_TCB_SVN[1]. Undefined: no level.
 * Also checks the info is for this platform (FMSPC, PCE-ID) and the TDX module identity.
 */
export function evaluateTdxTcb(
  info: TdxTcbInfo,
  pck: Pick<PckInfo, 'fmspc' | 'pceId' | 'pceSvn' | 'sgxTcbCompSvns'>,
  td: { teeTcbSvn: Uint8Array; mrSignerSeam: Uint8Array; seamAttributes: Uint8Array },
): TcbStatus | undefined {
  if (info.fmspc.toLowerCase() !== pck.fmspc || info.pceId.toLowerCase() !== pck.pceId) {
    fail(
      'chain_invalid',
      `tcbInfo is for FMSPC ${info.fmspc}/${info.pceId}, the PCK for ${pck.fmspc}/${pck.pceId}`,
    );
  }
  const mod = info.tdxModule;
  if (mod) {
    const mask = BigInt(`0x${mod.attributesMask}`);
    const attrs = Buffer.from(td.seamAttributes).readBigUInt64LE(0);
    if (!eqHex(mod.mrsigner, td.mrSignerSeam) || (attrs & mask) !== BigInt(`0x${mod.attributes}`)) {
      fail('chain_invalid', 'the TDX module (MRSIGNERSEAM, SEAMATTRIBUTES) does not match tcbInfo.tdxModule');
    }
  }
  const tee = (i: number): number => td.teeTcbSvn[i] ?? 0;
  if (info.tdxModuleIdentities?.length && tee(1) > 0) {
    // TDX 1.5 modules (TEE_TCB_SVN[1] = module major version > 0) are evaluated against
    // tdxModuleIdentities "TDX_<major>" (TDX 1.5): this verifier does not evaluate those, so it refuses.
    fail(
      'unsupported',
      `TDX module major version ${tee(1)}: TDX 1.5 module identities are not supported by this verifier`,
    );
  }
  const level = info.tcbLevels.find(
    (l) =>
      l.tcb.sgxtcbcomponents.every((c, i) => (pck.sgxTcbCompSvns[i] ?? -1) >= c.svn) &&
      pck.pceSvn >= l.tcb.pcesvn &&
      l.tcb.tdxtcbcomponents.every((c, i) => tee(i) >= c.svn),
  );
  if (!level || level.tcb.tdxtcbcomponents[1]?.svn !== tee(1)) return undefined;
  return { status: level.tcbStatus, tcbDate: level.tcbDate, advisoryIds: level.advisoryIDs ?? [] };
}

/** QE identity: the QE report is Intel's TD QE (else chain_invalid); its TCB level (undefined: none). */
export function evaluateQeIdentity(
  id: QeIdentity,
  qe: { mrSigner: Uint8Array; isvProdId: number; miscSelect: number; attributes: Uint8Array; isvSvn: number },
): TcbStatus | undefined {
  const masked = (v: Uint8Array, mask: string): string =>
    Buffer.from(v.map((b, i) => b & parseInt(mask.slice(2 * i, 2 * i + 2), 16))).toString('hex');
  const misc = Buffer.alloc(4);
  misc.writeUInt32BE(qe.miscSelect >>> 0);
  if (
    !eqHex(id.mrsigner, qe.mrSigner) ||
    qe.isvProdId !== id.isvprodid ||
    masked(misc, id.miscselectMask) !== id.miscselect.toLowerCase() ||
    masked(qe.attributes, id.attributesMask) !== id.attributes.toLowerCase()
  ) {
    fail('chain_invalid', 'the QE report does not match the Intel TD QE identity');
  }
  const level = [...id.tcbLevels]
    .sort((a, b) => b.tcb.isvsvn - a.tcb.isvsvn)
    .find((l) => l.tcb.isvsvn <= qe.isvSvn);
  return level && { status: level.tcbStatus, tcbDate: level.tcbDate, advisoryIds: level.advisoryIDs ?? [] };
}

export function acceptTcbStatus(what: string, s: TcbStatus | undefined, tdx: TdxReference): TcbStatus {
  if (!s) fail('tcb_too_old', `no ${what} TCB level matches this platform`);
  const ok =
    s.status === 'UpToDate' || (s.status !== 'Revoked' && (tdx.acceptedTcbStatuses ?? []).includes(s.status));
  if (!ok)
    fail(
      'tcb_too_old',
      `${what} TCB status ${s.status}${s.advisoryIds.length ? ` (${s.advisoryIds.join(', ')})` : ''}`,
    );
  return s;
}

interface CollateralResult {
  tcbStatus: TcbStatus;
  qeTcbStatus: TcbStatus;
  tcbEvaluationDataNumber: number;
}

/** Step 9 with collateral: CRLs, signed TCB info and QE identity, their evaluation. */
export function checkTdxCollateral(
  quote: TdxQuote,
  pck: PckInfo,
  c: TdxCollateral,
  now: number,
  tdx: TdxReference = {},
): CollateralResult {
  if (c.rootCrl !== undefined) {
    const crl = verifyCrl(c.rootCrl, pck.root, now, 'root CRL');
    checkNotRevoked(crl, pck.intermediate, 'the PCK CA certificate');
  }
  if (c.pckCrl !== undefined) {
    checkNotRevoked(verifyCrl(c.pckCrl, pck.intermediate, now, 'PCK CRL'), pck.leaf, 'the PCK certificate');
  }
  const info = verifySignedCollateral(
    c.tcbInfo,
    'tcbInfo',
    TdxTcbInfoSchema,
    c.tcbSigningChain,
    now,
    pck.root,
  );
  const qeId = verifySignedCollateral(
    c.qeIdentity,
    'enclaveIdentity',
    QeIdentitySchema,
    c.tcbSigningChain,
    now,
    pck.root,
  );
  const qeTcbStatus = acceptTcbStatus('QE identity', evaluateQeIdentity(qeId, quote.qeReport), tdx);
  const tcbStatus = acceptTcbStatus('TDX', evaluateTdxTcb(info, pck, quote.body), tdx);
  return { tcbStatus, qeTcbStatus, tcbEvaluationDataNumber: info.tcbEvaluationDataNumber };
}

export class TdxVerifier implements EvidenceVerifier {
  readonly kind = 'tdx' as const;
  private readonly binding: ReportDataBinding;
  private readonly collateral: TdxVerifierOptions['collateral'];

  constructor(options: TdxVerifierOptions = {}) {
    bundledIntelRoot(); // fail at construction when the bundled root does not match its pin
    this.binding = options.binding ?? ZTGATE_BINDING_V1;
    this.collateral = options.collateral;
  }

  async verify(
    evidence: Uint8Array | string,
    expected: ExpectedBinding,
    reference: ReferenceValues,
  ): Promise<Verdict> {
    const tdx = reference.tdx ?? {};
    const quote = parseTdxQuote(decodeEvidence(evidence));
    const pck = verifyPckChain(quote.pckChainPem, expected.now);
    verifyQuoteSignatures(quote, pck.publicKey);
    const tcb = tdxTcbComponents(quote, pck);
    checkTdxQuote(quote, tcb, expected, reference, this.binding);

    const collateral = typeof this.collateral === 'function' ? this.collateral(pck.fmspc) : this.collateral;
    if (!collateral && tdx.requireCollateral) fail('tcb_too_old', `no TCB collateral for FMSPC ${pck.fmspc}`);
    const evaluated = collateral ? checkTdxCollateral(quote, pck, collateral, expected.now, tdx) : undefined;

    const b = quote.body;
    const attrs = tdAttributesValue(b);
    return {
      ok: true,
      kind: 'tdx',
      measurement: hex(b.mrTd),
      hardware: true,
      verifiedAt: expected.now,
      claims: {
        debug: (attrs & TD_ATTRIBUTE_DEBUG) !== 0n,
        tcb,
        policy: {
          tdAttributes: u64hex(b.tdAttributes),
          xfam: u64hex(b.xfam),
          debug: (attrs & TD_ATTRIBUTE_DEBUG) !== 0n,
          septVeDisable: (attrs & TD_ATTRIBUTE_SEPT_VE_DISABLE) !== 0n,
        },
        mrtd: hex(b.mrTd),
        rtmr0: hex(b.rtmr[0]),
        rtmr1: hex(b.rtmr[1]),
        rtmr2: hex(b.rtmr[2]),
        rtmr3: hex(b.rtmr[3]),
        mrconfigid: hex(b.mrConfigId),
        mrowner: hex(b.mrOwner),
        mrownerconfig: hex(b.mrOwnerConfig),
        mrseam: hex(b.mrSeam),
        mrsignerseam: hex(b.mrSignerSeam),
        teeTcbSvn: hex(b.teeTcbSvn),
        ...(b.teeTcbSvn2 && b.mrServiceTd
          ? { teeTcbSvn2: hex(b.teeTcbSvn2), mrservicetd: hex(b.mrServiceTd) }
          : {}),
        reportData: hex(b.reportData),
        binding: this.binding.name,
        fmspc: pck.fmspc,
        pceId: pck.pceId,
        pckCa: pck.intermediate.subject.includes('Processor') ? 'processor' : 'platform',
        qeSvn: quote.qeReport.isvSvn,
        quoteVersion: quote.header.version,
        ...(evaluated
          ? {
              tcbStatus: evaluated.tcbStatus.status,
              tcbDate: evaluated.tcbStatus.tcbDate,
              advisoryIds: [...evaluated.tcbStatus.advisoryIds],
              qeTcbStatus: evaluated.qeTcbStatus.status,
              tcbEvaluationDataNumber: evaluated.tcbEvaluationDataNumber,
            }
          : {}),
      },
    };
  }
}
