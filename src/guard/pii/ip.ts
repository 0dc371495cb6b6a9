/**
 * IP_ADDRESS: IPv4 and IPv6 (compressed, embedded IPv4, zone ids, CIDR prefixes). Runs of
 * hex digits, ':' and '.' are cut out of the text without a regex and checked with `net.isIP`.
 */
import { isIP } from 'node:net';
import type { Detection, Recognizer } from '../types.js';
import type { PiiPattern } from './shared.js';
import { contextScore, detection, forEachAnchoredRun, wordCharAt, words } from './shared.js';

const CONTEXT = words('ip', 'ipv4', 'ipv6', 'address', 'host', 'server', 'addr', 'gateway');
const MAX_RUN = 64;
/** Every address holds a '.' or a ':'. */
const SEPARATOR = /[.:]/g;
export const IP_PATTERNS: readonly PiiPattern[] = [{ name: 'ip_separator', regex: SEPARATOR }];

function coreCode(c: number): boolean {
  return (
    (c >= 48 && c <= 58) || // 0-9 and ':'
    c === 46 ||
    (c >= 65 && c <= 70) ||
    (c >= 97 && c <= 102)
  );
}

/** coreCode as a table (the scan reads every character). */
const CORE = Uint8Array.from({ length: 128 }, (_, c) => (coreCode(c) ? 1 : 0));

function isCore(c: number): boolean {
  return c < 128 && CORE[c] === 1;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isZoneChar(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45;
}

/** The longest prefix/suffix trim of `run` that is an IP address, as [from, to) or undefined. */
function trimToIp(run: string): [number, number, number] | undefined {
  let from = 0;
  let to = run.length;
  // a single leading ':' ("ip:10.0.0.1") is a separator; "::1" is an address
  if (run.startsWith(':') && !run.startsWith('::')) from = 1;
  for (let attempt = 0; attempt < 3 && to > from; attempt++) {
    const candidate = run.slice(from, to);
    const version = isIP(candidate);
    // "::" alone (the unspecified address) is far more often a scope operator
    if (version !== 0) return candidate === '::' ? undefined : [from, to, version];
    const last = run[to - 1];
    if (last === '.' || (last === ':' && run[to - 2] !== ':')) to--;
    else break;
  }
  return undefined;
}

export function createIpRecognizer(): Recognizer {
  return {
    name: 'ip_address',
    types: ['IP_ADDRESS'],
    detect(text: string): Detection[] {
      const out: Detection[] = [];
      forEachAnchoredRun(text, SEPARATOR, isCore, (start, i) => {
        if (i - start < 2 || i - start > MAX_RUN) return i;
        const run = text.slice(start, i);
        if (run[0] !== ':' && wordCharAt(text, start - 1)) return i;
        const found = trimToIp(run);
        if (!found) return i;
        const [from, to, version] = found;
        let end = start + to;
        // IPv6 zone id (fe80::1%eth0) and CIDR prefix (/64)
        if (version === 6 && to === run.length && text[end] === '%') {
          let z = end + 1;
          while (z < text.length && z - end < 16 && isZoneChar(text.charCodeAt(z))) z++;
          if (z > end + 1) end = z;
        }
        if (text[end] === '/' && isDigit(text.charCodeAt(end + 1))) {
          let p = end + 1;
          while (p < text.length && p - end <= 3 && isDigit(text.charCodeAt(p))) p++;
          const prefix = Number(text.slice(end + 1, p));
          if (prefix <= (version === 4 ? 32 : 128) && !wordCharAt(text, p)) end = p;
        }
        if (end === start + to && to === run.length && wordCharAt(text, end)) return i;
        const s = start + from;
        out.push(detection('IP_ADDRESS', s, end, contextScore(text, s, end, 0.6, CONTEXT), 'ip_address'));
        return Math.max(i, end);
      });
      return out;
    },
  };
}
