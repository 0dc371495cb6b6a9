/** Checksums for crypto wallet addresses: Base58Check, bech32/bech32m and EIP-55 (Keccak-256). */
import { createHash } from 'node:crypto';

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

function base58Decode(s: string): Uint8Array | undefined {
  const bytes: number[] = [0];
  for (const ch of s) {
    const value = BASE58.indexOf(ch);
    if (value < 0) return undefined;
    let carry = value;
    for (let i = 0; i < bytes.length; i++) {
      carry += (bytes[i] ?? 0) * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  for (const ch of s) {
    if (ch !== '1') break;
    bytes.push(0);
  }
  return Uint8Array.from(bytes.reverse());
}

/** A Base58Check string whose payload is 21 bytes (version + hash160), as Bitcoin P2PKH/P2SH. */
export function isBase58Check(s: string): boolean {
  const raw = base58Decode(s);
  if (!raw || raw.length !== 25) return false;
  const payload = raw.subarray(0, 21);
  const first = createHash('sha256').update(payload).digest();
  const second = createHash('sha256').update(first).digest();
  return second.subarray(0, 4).equals(Buffer.from(raw.subarray(21)));
}

const BECH32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GEN[i] ?? 0;
  }
  return chk >>> 0;
}

/** A bech32 (BIP-173) or bech32m (BIP-350) string with a valid checksum. */
export function isBech32(address: string): boolean {
  if (address !== address.toLowerCase() && address !== address.toUpperCase()) return false;
  const s = address.toLowerCase();
  const sep = s.lastIndexOf('1');
  if (sep < 1 || sep + 7 > s.length || s.length > 90) return false;
  const hrp = s.slice(0, sep);
  const data: number[] = [];
  for (const ch of s.slice(sep + 1)) {
    const v = BECH32.indexOf(ch);
    if (v < 0) return false;
    data.push(v);
  }
  const expanded = [...hrp].map((c) => c.charCodeAt(0) >> 5);
  expanded.push(0, ...[...hrp].map((c) => c.charCodeAt(0) & 31));
  const check = polymod([...expanded, ...data]);
  return check === 1 || check === 0x2bc830a3;
}

// Keccak-256 (the pre-standard SHA-3 that Ethereum uses; node:crypto has only FIPS SHA3).
const RC = [
  0x1n,
  0x8082n,
  0x800000000000808an,
  0x8000000080008000n,
  0x808bn,
  0x80000001n,
  0x8000000080008081n,
  0x8000000000008009n,
  0x8an,
  0x88n,
  0x80008009n,
  0x8000000an,
  0x8000808bn,
  0x800000000000008bn,
  0x8000000000008089n,
  0x8000000000008003n,
  0x8000000000008002n,
  0x8000000000000080n,
  0x800an,
  0x800000008000000an,
  0x8000000080008081n,
  0x8000000000008080n,
  0x80000001n,
  0x8000000080008008n,
];
const ROT = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14];
const MASK = (1n << 64n) - 1n;

function rotl(x: bigint, n: number): bigint {
  return n === 0 ? x : ((x << BigInt(n)) | (x >> BigInt(64 - n))) & MASK;
}

function keccakF(a: bigint[]): void {
  for (let round = 0; round < 24; round++) {
    const c = [0, 1, 2, 3, 4].map(
      (x) => (a[x] ?? 0n) ^ (a[x + 5] ?? 0n) ^ (a[x + 10] ?? 0n) ^ (a[x + 15] ?? 0n) ^ (a[x + 20] ?? 0n),
    );
    for (let x = 0; x < 5; x++) {
      const d = (c[(x + 4) % 5] ?? 0n) ^ rotl(c[(x + 1) % 5] ?? 0n, 1);
      for (let y = 0; y < 25; y += 5) a[x + y] = (a[x + y] ?? 0n) ^ d;
    }
    const b: bigint[] = new Array<bigint>(25).fill(0n);
    for (let x = 0; x < 5; x++) {
      for (let y = 0; y < 5; y++)
        b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl(a[x + 5 * y] ?? 0n, ROT[x + 5 * y] ?? 0);
    }
    for (let i = 0; i < 25; i++) {
      const x = i % 5;
      const y = i - x;
      a[i] = (b[i] ?? 0n) ^ (~(b[y + ((x + 1) % 5)] ?? 0n) & MASK & (b[y + ((x + 2) % 5)] ?? 0n));
    }
    a[0] = (a[0] ?? 0n) ^ (RC[round] ?? 0n);
  }
}

/** Keccak-256 of a short ASCII message (≤ 135 bytes: one block, enough for an address). */
export function keccak256Hex(message: string): string {
  const rate = 136;
  const block = new Uint8Array(rate);
  for (let i = 0; i < message.length; i++) block[i] = message.charCodeAt(i) & 0xff;
  block[message.length] = (block[message.length] ?? 0) ^ 0x01;
  block[rate - 1] = (block[rate - 1] ?? 0) ^ 0x80;
  const state: bigint[] = new Array<bigint>(25).fill(0n);
  for (let i = 0; i < rate / 8; i++) {
    let lane = 0n;
    for (let k = 7; k >= 0; k--) lane = (lane << 8n) | BigInt(block[i * 8 + k] ?? 0);
    state[i] = lane;
  }
  keccakF(state);
  let hex = '';
  for (let i = 0; i < 4; i++) {
    let lane = state[i] ?? 0n;
    for (let k = 0; k < 8; k++) {
      hex += Number(lane & 0xffn)
        .toString(16)
        .padStart(2, '0');
      lane >>= 8n;
    }
  }
  return hex;
}

/** EIP-55: a mixed-case address must carry the checksum; all-lower or all-upper is accepted. */
export function isEthAddress(address: string): boolean {
  const body = address.slice(2);
  if (body === body.toLowerCase() || body === body.toUpperCase()) return true;
  const hash = keccak256Hex(body.toLowerCase());
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] ?? '';
    if (ch >= '0' && ch <= '9') continue;
    const upper = parseInt(hash[i] ?? '0', 16) >= 8;
    if (upper !== (ch === ch.toUpperCase())) return false;
  }
  return true;
}
