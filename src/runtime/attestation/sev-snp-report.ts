// Parser for the AMD SEV-SNP ATTESTATION_REPORT (SEV Secure Nested Paging Firmware ABI
// Specification, AMD #56860, "ATTESTATION_REPORT Structure"). All integers are little-endian.
//
//  0x000 VERSION u32            0x004 GUEST_SVN u32          0x008 POLICY u64
//  0x010 FAMILY_ID [16]         0x020 IMAGE_ID [16]          0x030 VMPL u32
//  0x034 SIGNATURE_ALGO u32     0x038 CURRENT_TCB u64        0x040 PLATFORM_INFO u64
//  0x048 flags u32 (bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY)   0x04C rsvd
//  0x050 REPORT_DATA [64]       0x090 MEASUREMENT [48]       0x0C0 HOST_DATA [32]
//  0x0E0 ID_KEY_DIGEST [48]     0x110 AUTHOR_KEY_DIGEST [48] 0x140 REPORT_ID [32]
//  0x160 REPORT_ID_MA [32]      0x180 REPORTED_TCB u64       0x188 rsvd (v3+: CPUID fam/model/step)
//  0x1A0 CHIP_ID [64]           0x1E0 COMMITTED_TCB u64      0x1E8 CURRENT_BUILD/MINOR/MAJOR u8, rsvd
//  0x1EC COMMITTED_BUILD/MINOR/MAJOR u8, rsvd                0x1F0 LAUNCH_TCB u64
//  0x1F8 rsvd ... 0x2A0 SIGNATURE [0x200]: R [72] little-endian, S [72] little-endian, rsvd.
// The signature covers bytes 0x000..0x29F.
//
// TCB_VERSION on Milan and Genoa: byte 0 BOOT_LOADER, 1 TEE, 2..5 reserved, 6 SNP, 7 MICROCODE.
// (Turin uses another layout, with an FMC byte; it is not supported here.)
import { AttestationError } from './types.js';

export const SNP_REPORT_SIZE = 0x4a0;
export const SNP_SIGNED_SIZE = 0x2a0;
export const SNP_SIGNATURE_OFFSET = 0x2a0;
export const SNP_SIG_ALGO_ECDSA_P384_SHA384 = 1;
export const SNP_SUPPORTED_VERSIONS: readonly number[] = [2, 3];
const ECDSA_COMPONENT_SIZE = 72; // little-endian, zero-extended P-384 scalar
const P384_SIZE = 48;

export const POLICY_SMT_BIT = 16;
export const POLICY_RESERVED_ONE_BIT = 17;
export const POLICY_MIGRATE_MA_BIT = 18;
export const POLICY_DEBUG_BIT = 19;
export const POLICY_SINGLE_SOCKET_BIT = 20;

export type SnpSigningKey = 'vcek' | 'vlek' | 'none';

export interface SnpTcb {
  bootloader: number;
  tee: number;
  snp: number;
  microcode: number;
  /** The raw 64-bit value, 16 hex digits (little-endian value rendered big-endian). */
  raw: string;
}

export interface SnpPolicy {
  abiMinor: number;
  abiMajor: number;
  smt: boolean;
  migrateMa: boolean;
  debug: boolean;
  singleSocket: boolean;
  /** The raw 64-bit policy, hex. */
  raw: string;
}

export interface SnpReport {
  version: number;
  guestSvn: number;
  policy: SnpPolicy;
  familyId: Uint8Array;
  imageId: Uint8Array;
  vmpl: number;
  signatureAlgo: number;
  currentTcb: SnpTcb;
  platformInfo: { smtEnabled: boolean; tsmeEnabled: boolean; raw: string };
  authorKeyEnabled: boolean;
  maskChipKey: boolean;
  signingKey: SnpSigningKey;
  reportData: Uint8Array;
  measurement: Uint8Array;
  hostData: Uint8Array;
  idKeyDigest: Uint8Array;
  authorKeyDigest: Uint8Array;
  reportId: Uint8Array;
  reportIdMa: Uint8Array;
  reportedTcb: SnpTcb;
  /** Version 3+ only. */
  cpuid?: { family: number; model: number; stepping: number };
  chipId: Uint8Array;
  committedTcb: SnpTcb;
  currentVersion: { major: number; minor: number; build: number };
  committedVersion: { major: number; minor: number; build: number };
  launchTcb: SnpTcb;
  /** Signature r and s, big-endian, 48 bytes each (IEEE P1363 halves). */
  signature: { r: Uint8Array; s: Uint8Array };
  /** The signed bytes 0x000..0x29F (a view into the input). */
  signedBytes: Uint8Array;
}

function malformed(message: string): AttestationError {
  return new AttestationError('malformed_evidence', message, 'sev-snp');
}

function u64(view: DataView, offset: number): bigint {
  return view.getBigUint64(offset, true);
}

function hex64(v: bigint): string {
  return v.toString(16).padStart(16, '0');
}

export function parseTcb(bytes: Uint8Array, offset: number): SnpTcb {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    bootloader: bytes[offset] ?? 0,
    tee: bytes[offset + 1] ?? 0,
    snp: bytes[offset + 6] ?? 0,
    microcode: bytes[offset + 7] ?? 0,
    raw: hex64(u64(view, offset)),
  };
}

function mbz(bytes: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    if (bytes[i] !== 0) {
      throw malformed(`reserved bytes 0x${from.toString(16)}..0x${to.toString(16)} are not zero`);
    }
  }
}

/**
 * Converts one 72-byte little-endian ECDSA component to a 48-byte big-endian scalar. The bytes
 * beyond 48 must be zero (a P-384 scalar is 48 bytes).
 */
export function leComponentToBe(le: Uint8Array): Uint8Array {
  if (le.length !== ECDSA_COMPONENT_SIZE) throw malformed('ECDSA component is not 72 bytes');
  for (let i = P384_SIZE; i < ECDSA_COMPONENT_SIZE; i++) {
    if (le[i] !== 0) throw malformed('ECDSA component exceeds 384 bits');
  }
  const be = new Uint8Array(P384_SIZE);
  for (let i = 0; i < P384_SIZE; i++) be[i] = le[P384_SIZE - 1 - i] ?? 0;
  return be;
}

/** Reads only what is needed to choose how to verify: size, version, algorithm, signing key. */
export function readReportHeader(bytes: Uint8Array): {
  version: number;
  signatureAlgo: number;
  signingKey: SnpSigningKey;
} {
  if (bytes.length !== SNP_REPORT_SIZE) {
    throw malformed(`report is ${bytes.length} bytes, want ${SNP_REPORT_SIZE}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(0x000, true);
  if (!SNP_SUPPORTED_VERSIONS.includes(version)) {
    throw new AttestationError('unsupported', `report version ${version}`, 'sev-snp');
  }
  const signatureAlgo = view.getUint32(0x034, true);
  if (signatureAlgo !== SNP_SIG_ALGO_ECDSA_P384_SHA384) {
    throw new AttestationError('unsupported', `signature algorithm ${signatureAlgo}`, 'sev-snp');
  }
  const key = (view.getUint32(0x048, true) >>> 2) & 7;
  const signingKey: SnpSigningKey | undefined =
    key === 0 ? 'vcek' : key === 1 ? 'vlek' : key === 7 ? 'none' : undefined;
  if (!signingKey) throw malformed(`reserved SIGNING_KEY value ${key}`);
  return { version, signatureAlgo, signingKey };
}

/** Parses and structurally validates a report. Does not verify the signature. */
export function parseSnpReport(bytes: Uint8Array): SnpReport {
  const { version, signatureAlgo, signingKey } = readReportHeader(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const slice = (from: number, len: number): Uint8Array => bytes.slice(from, from + len);

  const policyRaw = u64(view, 0x008);
  const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) === 1n;
  if (!bit(policyRaw, POLICY_RESERVED_ONE_BIT)) throw malformed('policy bit 17 must be one');
  const flags = view.getUint32(0x048, true);
  if (flags >>> 5 !== 0) throw malformed('reserved flag bits are set');
  mbz(bytes, 0x04c, 0x050);
  if (version === 2) mbz(bytes, 0x188, 0x1a0);
  else mbz(bytes, 0x18b, 0x1a0);
  mbz(bytes, 0x1eb, 0x1ec);
  mbz(bytes, 0x1ef, 0x1f0);
  mbz(bytes, 0x1f8, SNP_SIGNATURE_OFFSET);
  mbz(bytes, SNP_SIGNATURE_OFFSET + 2 * ECDSA_COMPONENT_SIZE, SNP_REPORT_SIZE);
  const platformRaw = u64(view, 0x040);

  const report: SnpReport = {
    version,
    guestSvn: view.getUint32(0x004, true),
    policy: {
      abiMinor: Number(policyRaw & 0xffn),
      abiMajor: Number((policyRaw >> 8n) & 0xffn),
      smt: bit(policyRaw, POLICY_SMT_BIT),
      migrateMa: bit(policyRaw, POLICY_MIGRATE_MA_BIT),
      debug: bit(policyRaw, POLICY_DEBUG_BIT),
      singleSocket: bit(policyRaw, POLICY_SINGLE_SOCKET_BIT),
      raw: hex64(policyRaw),
    },
    familyId: slice(0x010, 16),
    imageId: slice(0x020, 16),
    vmpl: view.getUint32(0x030, true),
    signatureAlgo,
    currentTcb: parseTcb(bytes, 0x038),
    platformInfo: {
      smtEnabled: bit(platformRaw, 0),
      tsmeEnabled: bit(platformRaw, 1),
      raw: hex64(platformRaw),
    },
    authorKeyEnabled: (flags & 1) === 1,
    maskChipKey: (flags & 2) === 2,
    signingKey,
    reportData: slice(0x050, 64),
    measurement: slice(0x090, 48),
    hostData: slice(0x0c0, 32),
    idKeyDigest: slice(0x0e0, 48),
    authorKeyDigest: slice(0x110, 48),
    reportId: slice(0x140, 32),
    reportIdMa: slice(0x160, 32),
    reportedTcb: parseTcb(bytes, 0x180),
    chipId: slice(0x1a0, 64),
    committedTcb: parseTcb(bytes, 0x1e0),
    currentVersion: { build: bytes[0x1e8] ?? 0, minor: bytes[0x1e9] ?? 0, major: bytes[0x1ea] ?? 0 },
    committedVersion: { build: bytes[0x1ec] ?? 0, minor: bytes[0x1ed] ?? 0, major: bytes[0x1ee] ?? 0 },
    launchTcb: parseTcb(bytes, 0x1f0),
    signature: {
      r: leComponentToBe(bytes.subarray(SNP_SIGNATURE_OFFSET, SNP_SIGNATURE_OFFSET + ECDSA_COMPONENT_SIZE)),
      s: leComponentToBe(
        bytes.subarray(
          SNP_SIGNATURE_OFFSET + ECDSA_COMPONENT_SIZE,
          SNP_SIGNATURE_OFFSET + 2 * ECDSA_COMPONENT_SIZE,
        ),
      ),
    },
    signedBytes: bytes.subarray(0, SNP_SIGNED_SIZE),
  };
  if (version >= 3) {
    report.cpuid = { family: bytes[0x188] ?? 0, model: bytes[0x189] ?? 0, stepping: bytes[0x18a] ?? 0 };
  }
  return report;
}

/** The signature as IEEE P1363 (r || s, 48 bytes each, big-endian), for node:crypto.verify. */
export function signatureP1363(report: Pick<SnpReport, 'signature'>): Buffer {
  return Buffer.concat([report.signature.r, report.signature.s]);
}

export function tcbComponents(tcb: SnpTcb): Record<string, number> {
  return { bootloader: tcb.bootloader, tee: tcb.tee, snp: tcb.snp, microcode: tcb.microcode };
}
