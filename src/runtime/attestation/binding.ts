// How a 64-byte REPORT_DATA field (SEV-SNP report_data, TDX REPORTDATA) binds the challenge nonce
// and the runtime's TLS key. Shared by the hardware verifiers and the agent that requests reports.
//
// ztgate binding v1 (the default):
//   report_data[0..32)  = SHA-256("ztgate-attest-nonce-v1" || 0x00 || nonce)
//   report_data[32..64) = SHA-256("ztgate-attest-tls-key-v1" || 0x00 || tlsKeyDigest), or 32 zero
//                         bytes when the runtime binds no TLS key.
// Two halves, not one hash over both, so that a mismatch says which binding failed; each half is
// domain-separated and fixed-length, so nonce and key cannot be shifted into each other.
import { createHash, timingSafeEqual } from 'node:crypto';
import { AttestationError, type EvidenceKind, type ExpectedBinding } from './types.js';

export const REPORT_DATA_SIZE = 64;

export interface ReportDataBinding {
  readonly name: string;
  /** The report_data the runtime must put in its report for this challenge. */
  expected(binding: Omit<ExpectedBinding, 'now'>): Uint8Array;
  /** Throws nonce_mismatch or key_binding_mismatch. */
  check(reportData: Uint8Array, binding: ExpectedBinding, kind: EvidenceKind): void;
}

const NONCE_LABEL = Buffer.from('ztgate-attest-nonce-v1\0');
const KEY_LABEL = Buffer.from('ztgate-attest-tls-key-v1\0');
const ZERO32 = new Uint8Array(32);

function sha256(label: Uint8Array, data: Uint8Array): Buffer {
  return createHash('sha256').update(label).update(data).digest();
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function requireNonce(nonce: Uint8Array): void {
  if (nonce.length < 16) throw new RangeError('attestation nonces must be at least 16 bytes');
}

export const ZTGATE_BINDING_V1: ReportDataBinding = {
  name: 'ztgate-v1',
  expected({ nonce, tlsKeyDigest }) {
    requireNonce(nonce);
    const out = new Uint8Array(REPORT_DATA_SIZE);
    out.set(sha256(NONCE_LABEL, nonce), 0);
    out.set(tlsKeyDigest ? sha256(KEY_LABEL, tlsKeyDigest) : ZERO32, 32);
    return out;
  },
  check(reportData, binding, kind) {
    if (reportData.length !== REPORT_DATA_SIZE) {
      throw new AttestationError('malformed_evidence', 'report_data is not 64 bytes', kind);
    }
    const want = this.expected(binding);
    if (!equal(reportData.subarray(0, 32), want.subarray(0, 32))) {
      throw new AttestationError('nonce_mismatch', 'report_data does not bind the challenge nonce', kind);
    }
    if (!equal(reportData.subarray(32), want.subarray(32))) {
      throw new AttestationError(
        'key_binding_mismatch',
        binding.tlsKeyDigest
          ? "report_data does not bind the peer's TLS key"
          : 'report_data binds a TLS key, none was expected',
        kind,
      );
    }
  },
};

/**
 * The nonce itself, zero-padded to 64 bytes (what `snpguest report --random`-style tools and the
 * go-sev-guest test data use). No key binding: a tlsKeyDigest is refused. For interoperability
 * and tests only; the gateway uses ZTGATE_BINDING_V1.
 */
export const RAW_NONCE_BINDING: ReportDataBinding = {
  name: 'raw-nonce',
  expected({ nonce }) {
    if (nonce.length > REPORT_DATA_SIZE) throw new RangeError('nonce longer than report_data');
    const out = new Uint8Array(REPORT_DATA_SIZE);
    out.set(nonce, 0);
    return out;
  },
  check(reportData, binding, kind) {
    if (binding.tlsKeyDigest) {
      throw new AttestationError('key_binding_mismatch', 'the raw-nonce binding cannot bind a TLS key', kind);
    }
    if (binding.nonce.length > REPORT_DATA_SIZE || !equal(reportData, this.expected(binding))) {
      throw new AttestationError('nonce_mismatch', 'report_data is not the challenge nonce', kind);
    }
  },
};
