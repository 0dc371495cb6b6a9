// A minimal DER reader (definite lengths only, which DER requires) for the certificate extensions
// the hardware verifiers read (AMD VCEK TCB levels, Intel PCK SGX extensions). Bounded: every
// length is checked against the buffer before it is used.

/** One DER element: `raw` is the whole TLV, `value` its contents, `end` the offset after it. */
export interface Tlv {
  readonly tag: number;
  readonly value: Uint8Array;
  readonly raw: Uint8Array;
  readonly end: number;
}

export function readTlv(buf: Uint8Array, pos: number): Tlv {
  const tag = buf[pos];
  let len = buf[pos + 1];
  if (tag === undefined || len === undefined) throw new RangeError('DER truncated');
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new RangeError('DER length form not supported');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[p + i] ?? NaN);
    p += n;
  }
  if (!Number.isFinite(len) || p + len > buf.length) throw new RangeError('DER truncated');
  return { tag, value: buf.subarray(p, p + len), raw: buf.subarray(pos, p + len), end: p + len };
}

/** The elements of a constructed value, in order. */
export function children(value: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  for (let p = 0; p < value.length;) {
    const t = readTlv(value, p);
    out.push(t);
    p = t.end;
  }
  return out;
}
