/** Private key blocks: PEM (RSA/EC/DSA/PKCS#8/encrypted), OpenSSH, PGP, PuTTY. */
import type { FoundSpan, ScannerRule } from '../types.js';

const BEGIN = '-----begin ';
const END = '-----end ';
const MIN_BODY = 32;

/** Counts key-material characters from `from` up to the next `-----` (capped), skipping escapes. */
function bodyLength(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    const b64 =
      (c >= 65 && c <= 90) ||
      (c >= 97 && c <= 122) ||
      (c >= 48 && c <= 57) ||
      c === 43 ||
      c === 47 ||
      c === 61;
    if (b64) n++;
  }
  return n;
}

/**
 * Finds `-----BEGIN … PRIVATE KEY-----` headers followed by key material. A block without its
 * END line still counts when enough material follows (keys pasted truncated into a chat).
 * INVARIANT: linear — each `-----` search starts where the previous one stopped.
 */
function findPrivateKeys(text: string, lower: string): FoundSpan[] {
  const out: FoundSpan[] = [];
  let i = lower.indexOf(BEGIN);
  while (i !== -1) {
    const headerEnd = lower.indexOf('-----', i + BEGIN.length);
    if (headerEnd === -1 || headerEnd - i > 80) {
      i = lower.indexOf(BEGIN, i + BEGIN.length);
      continue;
    }
    const label = lower.slice(i + BEGIN.length, headerEnd);
    const bodyStart = headerEnd + 5;
    const next = lower.indexOf('-----', bodyStart);
    const bodyEnd = next === -1 ? Math.min(text.length, bodyStart + 8192) : next;
    if (label.includes('private key') && bodyLength(text, bodyStart, bodyEnd) >= MIN_BODY) {
      let end = bodyEnd;
      if (next !== -1 && lower.startsWith(END, next)) {
        const close = lower.indexOf('-----', next + END.length);
        end = close === -1 || close - next > 80 ? next : close + 5;
      }
      out.push({ rule: 'private-key', start: i, end, score: 0.99 });
      i = lower.indexOf(BEGIN, end);
    } else {
      i = lower.indexOf(BEGIN, bodyStart);
    }
  }
  return out;
}

export const KEY_RULES: readonly ScannerRule[] = [
  {
    kind: 'scanner',
    id: 'private-key',
    family: 'keys',
    description: 'PEM / OpenSSH / PKCS#8 / PGP private key block with key material',
    keywords: ['private key'],
    patterns: [],
    find: findPrivateKeys,
  },
];
