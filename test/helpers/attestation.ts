import assert from 'node:assert/strict';
import { AttestationError, type AttestationErrorCode } from '../../src/runtime/attestation/types.js';

/** Asserts that `p` rejects with an AttestationError of `code`. */
export async function rejects(p: Promise<unknown>, code: AttestationErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AttestationError, `not an AttestationError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** `accepted`, the AttestationError's code, or a note that something else was thrown. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (e) {
    return e instanceof AttestationError ? e.code : `non-attestation error: ${String(e)}`;
  }
}

/** A copy of `buf` with one bit flipped. */
export function flipBit(buf: Uint8Array, bit: number): Buffer {
  const copy = Buffer.from(buf);
  copy[bit >> 3] = (copy[bit >> 3] ?? 0) ^ (1 << (bit & 7));
  return copy;
}
