// Parser for Intel TDX ECDSA quotes, version 4 and version 5 (Intel "TDX DCAP Quote Generation
// Library and Quote Verification Library" API, appendix "Quote Format"; google/go-tdx-guest
// abi/abi.go). All integers are little-endian.
//
// Quote v4:
//   0     header (48): VERSION u16 = 4, ATT_KEY_TYPE u16 = 2 (ECDSA-256-with-P-256), TEE_TYPE u32
//         = 0x81 (TDX), QE_SVN u16, PCE_SVN u16, QE_VENDOR_ID [16], USER_DATA [20]
//   48    TD quote body (584): TEE_TCB_SVN [16], MRSEAM [48], MRSIGNERSEAM [48], SEAMATTRIBUTES u64,
//         TDATTRIBUTES u64, XFAM u64, MRTD [48], MRCONFIGID [48], MROWNER [48], MROWNERCONFIG [48],
//         RTMR0..3 [4 × 48], REPORTDATA [64]
//   632   QUOTE_SIGNATURE_DATA_LEN u32, then the signature data:
//         ECDSA signature [64] (r ‖ s, big-endian) over header ‖ body, by the attestation key;
//         ECDSA attestation key [64] (raw P-256 X ‖ Y);
//         certification data: TYPE u16 = 6 (QE report certification data), SIZE u32, then
//           QE report [384] (an SGX REPORT body), QE report signature [64] (by the PCK key),
//           QE auth data: SIZE u16 + bytes, certification data: TYPE u16 = 5 (PCK cert chain,
//           PEM: PCK leaf, intermediate CA, root CA), SIZE u32, bytes.
// Quote v5: the same header with VERSION = 5, then a body descriptor TYPE u16 (2 = TDX 1.0 body,
// 584 bytes; 3 = TDX 1.5 body, 648 bytes: the v4 body + TEE_TCB_SVN_2 [16] + MRSERVICETD [48]) and
// SIZE u32, the body, then the signature data as in v4. The signed bytes are everything before
// QUOTE_SIGNATURE_DATA_LEN (v5: header ‖ descriptor ‖ body).
//
// Every length inside the signature data must be exactly consistent (no slack). Bytes after the
// signature data are tolerated and ignored (quote buffers handed out by the host may be padded;
// go-tdx-guest's sample quote carries some): they are not signed and nothing reads them.
//
// verifyQuoteSignatures checks the quote's own signature structure once the PCK key is trusted:
// the QE report signed by the PCK key, the QE report binding the attestation key
// (REPORTDATA = SHA-256(attestation key ‖ QE auth data) ‖ 32 zero bytes), and the quote signed by
// the attestation key; each failure is signature_invalid.
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { AttestationError } from './types.js';

export const QUOTE_HEADER_SIZE = 48;
export const TD_REPORT_BODY_V4_SIZE = 584;
export const TD_REPORT_BODY_V15_SIZE = 648;
export const QE_REPORT_SIZE = 384;
export const ECDSA_P256_SIZE = 64;
export const ATT_KEY_TYPE_ECDSA_P256 = 2;
export const TEE_TYPE_TDX = 0x81;
export const CERT_DATA_QE_REPORT = 6;
export const CERT_DATA_PCK_CHAIN = 5;
/** Intel's QE vendor id (939a7233-f79c-4ca9-940a-0db3957f0607). */
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607';
const MAX_QUOTE_SIZE = 1 << 20;

export interface QuoteHeader {
  version: number;
  attestationKeyType: number;
  teeType: number;
  qeSvn: number;
  pceSvn: number;
  qeVendorId: Uint8Array;
  userData: Uint8Array;
}

export interface TdReportBody {
  teeTcbSvn: Uint8Array;
  mrSeam: Uint8Array;
  mrSignerSeam: Uint8Array;
  seamAttributes: Uint8Array;
  /** TDATTRIBUTES, the 8 bytes as in the quote (little-endian u64). */
  tdAttributes: Uint8Array;
  xfam: Uint8Array;
  mrTd: Uint8Array;
  mrConfigId: Uint8Array;
  mrOwner: Uint8Array;
  mrOwnerConfig: Uint8Array;
  rtmr: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  reportData: Uint8Array;
  /** TDX 1.5 bodies (quote v5 body type 3) only. */
  teeTcbSvn2?: Uint8Array;
  mrServiceTd?: Uint8Array;
}

/** The SGX REPORT body of the Quoting Enclave. */
export interface QeReport {
  cpuSvn: Uint8Array;
  miscSelect: number;
  /** ATTRIBUTES [16]. */
  attributes: Uint8Array;
  mrEnclave: Uint8Array;
  mrSigner: Uint8Array;
  isvProdId: number;
  isvSvn: number;
  reportData: Uint8Array;
  /** The 384 bytes (signed by the PCK key). */
  raw: Uint8Array;
}

export interface TdxQuote {
  header: QuoteHeader;
  /** v5 body descriptor type (2 or 3); v4: 2. */
  bodyType: number;
  body: TdReportBody;
  /** The bytes the attestation key signs (a view into the input). */
  signedBytes: Uint8Array;
  /** r ‖ s, big-endian (IEEE P1363). */
  signature: Uint8Array;
  /** Raw P-256 X ‖ Y. */
  attestationKey: Uint8Array;
  qeReport: QeReport;
  qeReportSignature: Uint8Array;
  qeAuthData: Uint8Array;
  /** The PCK chain as carried by the quote (PEM text; do not trust its root). */
  pckChainPem: string;
  /** Bytes after the signature data (ignored). */
  trailingBytes: number;
}

function malformed(message: string): AttestationError {
  return new AttestationError('malformed_evidence', message, 'tdx');
}

function unsupported(message: string): AttestationError {
  return new AttestationError('unsupported', message, 'tdx');
}

/** A bounded little-endian reader over the quote. */
class Reader {
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    public pos = 0,
    readonly end = bytes.length,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(n: number, what: string): void {
    if (this.pos + n > this.end) throw malformed(`quote truncated in ${what}`);
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
}

function parseHeader(r: Reader): QuoteHeader {
  const version = r.u16('header');
  if (version !== 4 && version !== 5) throw unsupported(`quote version ${version}`);
  const attestationKeyType = r.u16('header');
  if (attestationKeyType !== ATT_KEY_TYPE_ECDSA_P256) {
    throw unsupported(`attestation key type ${attestationKeyType} (only ECDSA P-256)`);
  }
  const teeType = r.u32('header');
  if (teeType !== TEE_TYPE_TDX) throw unsupported(`TEE type 0x${teeType.toString(16)} is not TDX`);
  const qeSvn = r.u16('header');
  const pceSvn = r.u16('header');
  const qeVendorId = r.take(16, 'header');
  if (Buffer.from(qeVendorId).toString('hex') !== INTEL_QE_VENDOR_ID) {
    throw unsupported('the quote is not from an Intel Quoting Enclave (QE vendor id)');
  }
  return { version, attestationKeyType, teeType, qeSvn, pceSvn, qeVendorId, userData: r.take(20, 'header') };
}

function parseBody(r: Reader, size: number): TdReportBody {
  const start = r.pos;
  const m = (): Uint8Array => r.take(48, 'TD report body');
  const body: TdReportBody = {
    teeTcbSvn: r.take(16, 'TD report body'),
    mrSeam: m(),
    mrSignerSeam: m(),
    seamAttributes: r.take(8, 'TD report body'),
    tdAttributes: r.take(8, 'TD report body'),
    xfam: r.take(8, 'TD report body'),
    mrTd: m(),
    mrConfigId: m(),
    mrOwner: m(),
    mrOwnerConfig: m(),
    rtmr: [m(), m(), m(), m()],
    reportData: r.take(64, 'TD report body'),
  };
  if (size === TD_REPORT_BODY_V15_SIZE) {
    body.teeTcbSvn2 = r.take(16, 'TD report body');
    body.mrServiceTd = m();
  }
  if (r.pos - start !== size) throw malformed('TD report body size');
  return body;
}

export function parseQeReport(raw: Uint8Array): QeReport {
  if (raw.length !== QE_REPORT_SIZE) throw malformed('QE report is not 384 bytes');
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return {
    cpuSvn: raw.subarray(0, 16),
    miscSelect: view.getUint32(16, true),
    attributes: raw.subarray(48, 64),
    mrEnclave: raw.subarray(64, 96),
    mrSigner: raw.subarray(128, 160),
    isvProdId: view.getUint16(256, true),
    isvSvn: view.getUint16(258, true),
    reportData: raw.subarray(320, 384),
    raw,
  };
}

/** Parses a v4 or v5 TDX quote (structure only: nothing here is verified). */
export function parseTdxQuote(bytes: Uint8Array): TdxQuote {
  if (bytes.length > MAX_QUOTE_SIZE) throw malformed(`quote is ${bytes.length} bytes`);
  const r = new Reader(bytes);
  const header = parseHeader(r);
  let bodyType = 2;
  let bodySize = TD_REPORT_BODY_V4_SIZE;
  if (header.version === 5) {
    bodyType = r.u16('body descriptor');
    bodySize = r.u32('body descriptor');
    const want = bodyType === 2 ? TD_REPORT_BODY_V4_SIZE : bodyType === 3 ? TD_REPORT_BODY_V15_SIZE : -1;
    if (want < 0) throw unsupported(`quote v5 body type ${bodyType} (1 = SGX enclave report)`);
    if (bodySize !== want) throw malformed(`quote v5 body type ${bodyType} with size ${bodySize}`);
  }
  const body = parseBody(r, bodySize);
  const signedBytes = bytes.subarray(0, r.pos);
  const sigLen = r.u32('signature data length');
  const sig = new Reader(bytes, r.pos, r.pos + sigLen);
  if (r.pos + sigLen > bytes.length) throw malformed('quote truncated in signature data');
  const signature = sig.take(ECDSA_P256_SIZE, 'quote signature');
  const attestationKey = sig.take(ECDSA_P256_SIZE, 'attestation key');
  const certType = sig.u16('certification data');
  if (certType !== CERT_DATA_QE_REPORT) {
    throw unsupported(`certification data type ${certType} (only 6, QE report certification data)`);
  }
  const certSize = sig.u32('certification data');
  if (sig.pos + certSize !== sig.end)
    throw malformed('certification data size does not fill the signature data');
  const qeReport = parseQeReport(sig.take(QE_REPORT_SIZE, 'QE report'));
  const qeReportSignature = sig.take(ECDSA_P256_SIZE, 'QE report signature');
  const qeAuthData = sig.take(sig.u16('QE auth data'), 'QE auth data');
  const innerType = sig.u16('PCK certification data');
  if (innerType !== CERT_DATA_PCK_CHAIN) {
    throw unsupported(`QE certification data type ${innerType} (only 5, PCK certificate chain)`);
  }
  const innerSize = sig.u32('PCK certification data');
  if (sig.pos + innerSize !== sig.end) throw malformed('PCK certification data size is inconsistent');
  const chain = sig.take(innerSize, 'PCK certificate chain');
  // PEM is ASCII; a NUL terminator is common.
  const text = Buffer.from(chain).toString('latin1').replace(/\0+$/, '');
  if (!/^[\t\n\r\x20-\x7e]*$/.test(text)) throw malformed('PCK certificate chain is not PEM text');
  return {
    header,
    bodyType,
    body,
    signedBytes,
    signature,
    attestationKey,
    qeReport,
    qeReportSignature,
    qeAuthData,
    pckChainPem: text,
    trailingBytes: bytes.length - sig.end,
  };
}

/** TD_ATTRIBUTES as a u64 (bit 0 DEBUG, bit 28 SEPT_VE_DISABLE, bit 30 PKS, bit 31 KL, bit 63 PERFMON). */
export function tdAttributesValue(body: TdReportBody): bigint {
  return Buffer.from(body.tdAttributes).readBigUInt64LE(0);
}

export const TD_ATTRIBUTE_DEBUG = 1n;
export const TD_ATTRIBUTE_SEPT_VE_DISABLE = 1n << 28n;

function attestationKey(raw: Uint8Array): KeyObject {
  const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
  try {
    return createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: b64(raw.subarray(0, 32)), y: b64(raw.subarray(32, 64)) },
      format: 'jwk',
    });
  } catch {
    throw new AttestationError('signature_invalid', 'the attestation key is not a P-256 point', 'tdx');
  }
}

function p1363Verify(data: Uint8Array, key: KeyObject, sig: Uint8Array): boolean {
  try {
    return cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return false;
  }
}

/** Steps 3–5: QE report by the PCK key, attestation key bound by the QE, quote by the attestation key. */
export function verifyQuoteSignatures(quote: TdxQuote, pckKey: KeyObject): void {
  if (!p1363Verify(quote.qeReport.raw, pckKey, quote.qeReportSignature)) {
    throw new AttestationError(
      'signature_invalid',
      'QE report signature does not verify with the PCK key',
      'tdx',
    );
  }
  const want = createHash('sha256').update(quote.attestationKey).update(quote.qeAuthData).digest();
  const rd = quote.qeReport.reportData;
  if (!want.equals(rd.subarray(0, 32)) || rd.subarray(32).some((b) => b !== 0)) {
    throw new AttestationError(
      'signature_invalid',
      'the QE report does not bind the attestation key and QE auth data',
      'tdx',
    );
  }
  if (!p1363Verify(quote.signedBytes, attestationKey(quote.attestationKey), quote.signature)) {
    throw new AttestationError(
      'signature_invalid',
      'quote signature does not verify with the attestation key',
      'tdx',
    );
  }
}
