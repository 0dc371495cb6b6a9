/**
 * URL: http(s)/ftp URLs, `www.` hosts and bare domains with a known TLD. Found by splitting the
 * text into whitespace-delimited tokens (linear), then trimming quotes, brackets and trailing
 * punctuation, so `(see https://x.org/a).` yields `https://x.org/a`.
 */
import { isIP } from 'node:net';
import type { Detection, Recognizer } from '../types.js';
import type { PiiPattern } from './shared.js';
import { contextScore, detection, forEachAnchoredRun, words } from './shared.js';
import { isValidHostname } from './hosts.js';

const CONTEXT = words('url', 'link', 'website', 'site', 'web', 'page', 'visit', 'domain');
const MAX_TOKEN = 4096;
const SCHEMES = ['https://', 'http://', 'ftp://'];

function delimiterCode(c: number): boolean {
  // whitespace, quotes, angle brackets, backtick, and the non-breaking / ideographic spaces
  return (
    c <= 32 ||
    c === 34 ||
    c === 39 ||
    c === 60 ||
    c === 62 ||
    c === 96 ||
    c === 0xa0 ||
    c === 0xab ||
    c === 0xbb ||
    c === 0x3000 ||
    (c >= 0x2018 && c <= 0x201f) ||
    (c >= 0x2000 && c <= 0x200b)
  );
}

/** delimiterCode for ASCII, as a table (the token loop reads every character). */
const ASCII_DELIMITERS = Uint8Array.from({ length: 128 }, (_, c) => (delimiterCode(c) ? 1 : 0));

function isDelimiter(c: number): boolean {
  return c < 128 ? ASCII_DELIMITERS[c] === 1 : delimiterCode(c);
}

const isTokenChar = (c: number): boolean => !isDelimiter(c);
/** Every URL this recognizer reports holds a '.'. */
const DOT = /\./g;
export const URL_PATTERNS: readonly PiiPattern[] = [{ name: 'url_dot', regex: DOT }];

const TRAILING = new Set(['.', ',', ';', ':', '!', '?', ')', ']', '}', '*', '_']);

function count(s: string, ch: string): number {
  let n = 0;
  for (const c of s) if (c === ch) n++;
  return n;
}

/** Trims trailing punctuation; a closing bracket stays when it balances one inside the URL. */
function trimEnd(url: string): string {
  let s = url;
  while (s.length > 0) {
    const last = s[s.length - 1] ?? '';
    if (!TRAILING.has(last)) break;
    if (last === ')' && count(s, '(') >= count(s, ')')) break;
    if (last === ']' && count(s, '[') >= count(s, ']')) break;
    s = s.slice(0, -1);
  }
  return s;
}

function hostOf(rest: string): string {
  let end = rest.length;
  for (const sep of ['/', '?', '#', ':']) {
    const i = rest.indexOf(sep);
    if (i !== -1 && i < end) end = i;
  }
  return rest.slice(0, end);
}

/** Returns [offset, length] of the URL inside the token, or undefined. */
function findInToken(token: string): [number, number] | undefined {
  const lower = token.toLowerCase();
  for (const scheme of SCHEMES) {
    const i = lower.indexOf(scheme);
    if (i === -1) continue;
    const url = trimEnd(token.slice(i));
    const host = hostOf(url.slice(scheme.length));
    const hostOk = isValidHostname(host, false) || isIP(host) !== 0 || host.toLowerCase() === 'localhost';
    return hostOk ? [i, url.length] : undefined;
  }
  if (token.includes('@')) return undefined; // e-mail addresses are not URLs
  let lead = 0;
  while (lead < token.length && '([{'.includes(token[lead] ?? '')) lead++;
  const body = trimEnd(token.slice(lead));
  if (body.length === 0) return undefined;
  const host = hostOf(body);
  // INVARIANT: schemeless hosts need a known TLD, or "e.g." and "file.ts" would be URLs.
  if (!isValidHostname(host, true)) return undefined;
  // "adaptation.In" is a missing space after a full stop, not a domain
  const tld = host.slice(host.lastIndexOf('.') + 1);
  if (tld !== tld.toLowerCase() && host !== host.toUpperCase()) return undefined;
  const labels = host.split('.');
  const first = labels[0] ?? '';
  if (labels.length === 2 && first.length < 2) return undefined;
  return [lead, body.length];
}

export function createUrlRecognizer(): Recognizer {
  return {
    name: 'url',
    types: ['URL'],
    detect(text: string): Detection[] {
      const out: Detection[] = [];
      forEachAnchoredRun(text, DOT, isTokenChar, (start, i) => {
        if (i - start < 4 || i - start > MAX_TOKEN) return i;
        const token = text.slice(start, i);
        const found = findInToken(token);
        if (!found) return i;
        const s = start + found[0];
        const e = s + found[1];
        const base = token.toLowerCase().includes('://') ? 0.85 : 0.6;
        out.push(detection('URL', s, e, contextScore(text, s, e, base, CONTEXT), 'url'));
        return i;
      });
      return out;
    },
  };
}
