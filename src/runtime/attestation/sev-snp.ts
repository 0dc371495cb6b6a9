// Evidence verifier for AMD SEV-SNP attestation reports.
//
// Evidence (what the runtime agent sends back for a challenge), one of:
//  - a string: JSON {"report": base64 of the 1184-byte report, "vcek": base64 DER or PEM}
//    (encodeSevSnpEvidence builds it);
//  - bytes: the report followed by the GHCB certificate table of an extended guest request
//    (SNP_GET_EXT_REPORT: 24-byte entries GUID ‖ offset u32 ‖ length u32, all-zero terminator,
//    offsets from the table's start; GUIDs in RFC 4122 byte order as go-sev-guest reads them);
//  - bytes: the bare report, when the verifier has a `vcekLookup` (e.g. a cache of VCEKs fetched
//    from AMD KDS by chip id and reported TCB).
// ASK and ARK are never taken from the evidence: the pinned, bundled ones are used.
//
// Checks, in order: report size/version/algorithm; VCEK ← ASK ← ARK (pinned) and validity at
// `now`; ECDSA P-384/SHA-384 signature over bytes 0x000..0x29F; reserved fields; the VCEK is this
// chip's (hwID = CHIP_ID, unless the host masked it) for this TCB (its SPLs = REPORTED_TCB);
// report_data binds the nonce and the TLS key (binding.ts); debug off; measurement, host data
// and ID/author key digests approved; REPORTED_TCB and GUEST_SVN at least the minimums; VMPL and
// migration agent allowed. An SNP report carries no time: freshness is the nonce alone.
import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { ZTGATE_BINDING_V1, type ReportDataBinding } from './binding.js';
import { bundledAmdRoots, VcekChainVerifier, type AmdRootSet, type VcekInfo } from './amd-certs.js';
import {
  leComponentToBe,
  parseSnpReport,
  readReportHeader,
  SNP_REPORT_SIZE,
  SNP_SIGNATURE_OFFSET,
  SNP_SIGNED_SIZE,
  tcbComponents,
  type SnpReport,
  type SnpTcb,
} from './sev-snp-report.js';
import {
  AttestationError,
  type AttestationErrorCode,
  type EvidenceVerifier,
  type ExpectedBinding,
  type ReferenceValues,
  type Verdict,
} from './types.js';

export const VCEK_GUID = '63da758d-e664-4564-adc5-f4b93be8accd';
const CERT_TABLE_ENTRY_SIZE = 24;

export interface SevSnpEvidence {
  report: Uint8Array;
  vcek: Uint8Array;
}

export interface SevSnpVerifierOptions {
  /** Root sets (from loadRootSet, so always pinned). Default: the bundled Milan and Genoa roots. */
  roots?: readonly AmdRootSet[];
  /** How report_data binds nonce and TLS key. Default ZTGATE_BINDING_V1. */
  binding?: ReportDataBinding;
  /** VCEK (DER) for a bare report, by chip id and reported TCB. */
  vcekLookup?: (chipId: Uint8Array, reportedTcb: SnpTcb) => Uint8Array | undefined;
}

function fail(code: AttestationErrorCode, message: string): never {
  throw new AttestationError(code, message, 'sev-snp');
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function guidBytes(guid: string): Buffer {
  return Buffer.from(guid.replace(/-/g, ''), 'hex');
}

/** The report and VCEK in the JSON evidence form. */
export function encodeSevSnpEvidence(e: SevSnpEvidence): string {
  return JSON.stringify({
    report: Buffer.from(e.report).toString('base64'),
    vcek: Buffer.from(e.vcek).toString('base64'),
  });
}

/** Report ‖ GHCB certificate table holding the VCEK (what an extended guest request returns). */
export function encodeSevSnpExtendedReport(e: SevSnpEvidence): Uint8Array {
  const header = Buffer.alloc(2 * CERT_TABLE_ENTRY_SIZE);
  guidBytes(VCEK_GUID).copy(header, 0);
  header.writeUInt32LE(header.length, 16);
  header.writeUInt32LE(e.vcek.length, 20);
  return Buffer.concat([e.report, header, e.vcek]);
}

function pemOrDer(text: string): Uint8Array {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(text);
  return Buffer.from(m ? (m[1] ?? '') : text, 'base64');
}

function vcekFromCertTable(table: Uint8Array): Uint8Array | undefined {
  const want = guidBytes(VCEK_GUID);
  for (let p = 0; p + CERT_TABLE_ENTRY_SIZE <= table.length; p += CERT_TABLE_ENTRY_SIZE) {
    const view = new DataView(table.buffer, table.byteOffset + p, CERT_TABLE_ENTRY_SIZE);
    const guid = table.subarray(p, p + 16);
    const offset = view.getUint32(16, true);
    const length = view.getUint32(20, true);
    if (offset === 0 && length === 0 && guid.every((b) => b === 0)) return undefined;
    if (Buffer.from(guid).equals(want)) {
      if (offset < p + CERT_TABLE_ENTRY_SIZE || offset + length > table.length) {
        fail('malformed_evidence', 'certificate table entry out of range');
      }
      return table.subarray(offset, offset + length);
    }
  }
  fail('malformed_evidence', 'certificate table has no terminator');
}

export function decodeSevSnpEvidence(
  evidence: Uint8Array | string,
  vcekLookup?: SevSnpVerifierOptions['vcekLookup'],
): SevSnpEvidence {
  if (typeof evidence === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(evidence);
    } catch {
      fail('malformed_evidence', 'evidence is not JSON');
    }
    const o = parsed as { report?: unknown; vcek?: unknown } | null;
    if (!o || typeof o.report !== 'string' || typeof o.vcek !== 'string') {
      fail('malformed_evidence', 'evidence JSON needs "report" and "vcek" strings');
    }
    return { report: Buffer.from(o.report, 'base64'), vcek: pemOrDer(o.vcek) };
  }
  if (evidence.length < SNP_REPORT_SIZE)
    fail('malformed_evidence', `evidence is only ${evidence.length} bytes`);
  const report = evidence.subarray(0, SNP_REPORT_SIZE);
  const vcek =
    evidence.length > SNP_REPORT_SIZE
      ? vcekFromCertTable(evidence.subarray(SNP_REPORT_SIZE))
      : vcekLookup?.(report.slice(0x1a0, 0x1e0), parseTcbAt(report, 0x180));
  if (!vcek) fail('malformed_evidence', 'no VCEK certificate for the report');
  return { report, vcek };
}

function parseTcbAt(report: Uint8Array, offset: number): SnpTcb {
  const b = (i: number): number => report[offset + i] ?? 0;
  const raw = Buffer.from(report.subarray(offset, offset + 8))
    .reverse()
    .toString('hex');
  return { bootloader: b(0), tee: b(1), snp: b(6), microcode: b(7), raw };
}

/**
 * Verifies the report's ECDSA P-384/SHA-384 signature with `publicKey`. R and S are 72-byte
 * little-endian fields; they become 48-byte big-endian halves of an IEEE P1363 signature.
 */
export function verifySnpReportSignature(report: Uint8Array, publicKey: KeyObject): boolean {
  let r: Uint8Array;
  let s: Uint8Array;
  try {
    r = leComponentToBe(report.subarray(SNP_SIGNATURE_OFFSET, SNP_SIGNATURE_OFFSET + 72));
    s = leComponentToBe(report.subarray(SNP_SIGNATURE_OFFSET + 72, SNP_SIGNATURE_OFFSET + 144));
  } catch {
    return false;
  }
  return cryptoVerify(
    'sha384',
    report.subarray(0, SNP_SIGNED_SIZE),
    { key: publicKey, dsaEncoding: 'ieee-p1363' },
    Buffer.concat([r, s]),
  );
}

function allowed(list: readonly string[] | undefined, value: Uint8Array): boolean {
  if (list === undefined) return true;
  const v = hex(value);
  return list.some((x) => x.toLowerCase() === v);
}

/** Checks a parsed (and already signature-checked) report against reference values. */
export function checkSnpReport(
  report: SnpReport,
  expected: ExpectedBinding,
  reference: ReferenceValues,
  binding: ReportDataBinding = ZTGATE_BINDING_V1,
): void {
  const snp = reference.sevSnp ?? {};
  binding.check(report.reportData, expected, 'sev-snp');
  if (report.policy.debug && reference.allowDebug !== true) {
    fail('debug_enabled', 'guest policy allows debugging (policy bit 19)');
  }
  if (!allowed(reference.measurements, report.measurement)) {
    fail('measurement_mismatch', `measurement ${hex(report.measurement)} is not approved`);
  }
  if (!allowed(snp.hostData, report.hostData)) fail('measurement_mismatch', 'host_data is not approved');
  if (!allowed(snp.idKeyDigests, report.idKeyDigest))
    fail('measurement_mismatch', 'id_key_digest is not approved');
  if (!allowed(snp.authorKeyDigests, report.authorKeyDigest)) {
    fail('measurement_mismatch', 'author_key_digest is not approved');
  }
  const tcb = tcbComponents(report.reportedTcb);
  for (const [component, min] of Object.entries(reference.minTcb ?? {})) {
    const have = tcb[component];
    if (have === undefined || have < min) {
      fail('tcb_too_old', `reported TCB ${component}=${have ?? 'absent'}, minimum ${min}`);
    }
  }
  if (snp.minGuestSvn !== undefined && report.guestSvn < snp.minGuestSvn) {
    fail('tcb_too_old', `guest SVN ${report.guestSvn}, minimum ${snp.minGuestSvn}`);
  }
  if (snp.vmpl !== undefined && !snp.vmpl.includes(report.vmpl)) {
    fail('policy_violation', `report requested at VMPL ${report.vmpl}`);
  }
  if (report.policy.migrateMa && snp.allowMigrationAgent !== true) {
    fail('policy_violation', 'guest policy allows a migration agent');
  }
}

/** The VCEK must be this chip's key for this TCB (chain_invalid otherwise). */
export function checkVcekMatchesReport(vcek: VcekInfo, report: SnpReport): void {
  const t = report.reportedTcb;
  const v = vcek.tcb;
  if (t.bootloader !== v.bootloader || t.tee !== v.tee || t.snp !== v.snp || t.microcode !== v.microcode) {
    fail(
      'chain_invalid',
      `VCEK is for TCB ${JSON.stringify(v)}, the report is at ${JSON.stringify(tcbComponents(t))}`,
    );
  }
  if (!report.maskChipKey && !Buffer.from(report.chipId).equals(vcek.hwid)) {
    fail('chain_invalid', "VCEK hwID is not the report's CHIP_ID");
  }
}

export class SevSnpVerifier implements EvidenceVerifier {
  readonly kind = 'sev-snp' as const;
  private readonly chain: VcekChainVerifier;
  private readonly binding: ReportDataBinding;
  private readonly vcekLookup: SevSnpVerifierOptions['vcekLookup'];

  constructor(options: SevSnpVerifierOptions = {}) {
    this.chain = new VcekChainVerifier(options.roots ?? bundledAmdRoots());
    this.binding = options.binding ?? ZTGATE_BINDING_V1;
    this.vcekLookup = options.vcekLookup;
  }

  async verify(
    evidence: Uint8Array | string,
    expected: ExpectedBinding,
    reference: ReferenceValues,
  ): Promise<Verdict> {
    const { report: bytes, vcek: vcekDer } = decodeSevSnpEvidence(evidence, this.vcekLookup);
    const header = readReportHeader(bytes);
    if (header.signingKey === 'vlek') fail('unsupported', 'VLEK-signed reports are not supported');
    if (header.signingKey === 'none')
      fail('signature_invalid', 'the report is unsigned (SIGNING_KEY = none)');

    const vcek = this.chain.verify(vcekDer, expected.now);
    const products = reference.sevSnp?.products;
    if (products && !products.includes(vcek.product))
      fail('chain_invalid', `AMD ${vcek.product} is not allowed`);
    if (!verifySnpReportSignature(bytes, vcek.publicKey)) {
      fail('signature_invalid', 'report signature does not verify with the VCEK');
    }

    const report = parseSnpReport(bytes);
    checkVcekMatchesReport(vcek, report);
    checkSnpReport(report, expected, reference, this.binding);

    const version = (v: { major: number; minor: number; build: number }): string =>
      `${v.major}.${v.minor}.${v.build}`;
    return {
      ok: true,
      kind: 'sev-snp',
      measurement: hex(report.measurement),
      hardware: true,
      verifiedAt: expected.now,
      claims: {
        debug: report.policy.debug,
        tcb: tcbComponents(report.reportedTcb),
        policy: { ...report.policy },
        product: vcek.productName,
        chipId: hex(report.chipId),
        guestSvn: report.guestSvn,
        vmpl: report.vmpl,
        reportData: hex(report.reportData),
        binding: this.binding.name,
        hostData: hex(report.hostData),
        familyId: hex(report.familyId),
        imageId: hex(report.imageId),
        idKeyDigest: hex(report.idKeyDigest),
        authorKeyDigest: hex(report.authorKeyDigest),
        reportId: hex(report.reportId),
        currentTcb: tcbComponents(report.currentTcb),
        committedTcb: tcbComponents(report.committedTcb),
        launchTcb: tcbComponents(report.launchTcb),
        firmware: version(report.currentVersion),
        platformInfo: {
          smtEnabled: report.platformInfo.smtEnabled,
          tsmeEnabled: report.platformInfo.tsmeEnabled,
        },
        reportVersion: report.version,
      },
    };
  }
}
