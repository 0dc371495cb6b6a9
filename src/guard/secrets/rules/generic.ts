/**
 * Generic secrets: high-entropy values assigned to secret-like names, passwords, HTTP
 * Authorization headers and `curl -u user:password`.
 */
import type { FoundSpan, SecretRule } from '../types.js';
import { isPlaceholder, shannonEntropy } from '../text.js';
import { OPERATOR, findAssignments } from './assignments.js';
import { BASE64_VALUE, isHighEntropyValue } from './entropy.js';
import { hasDigitAndLetter, pattern } from './build.js';

const SECRET_NAME =
  /(?:secret|token|passw(?:or)?d|passwd|pwd|api[_.-]?key|(?:^|[_.-])pass$|credential|(?:^|[_.-])auth$|_auth_|private[_.-]?key|access[_.-]?key|signing[_.-]?key|client[_.-]?key|(?:^|[_.-])key$)/i;
const PASSWORD_NAME = /(?:passw(?:or)?d|passwd|pwd|(?:^|[_.-])pass$)/i;
/** Names that say the value is meant to be shared (`public_key`, `pub.key`): never a secret. */
const PUBLIC_NAME = /(?:public|(?:^|[_.-])pub(?:[_.-]|$))/i;
/** Names of values that are not secrets: public ones, ids, paths, sizes, settings, … */
const NOT_SECRET_NAME = new RegExp(
  `${PUBLIC_NAME.source}|` +
    String.raw`(?:[_.-]|^)id$|[a-z]Id$|_ids?$|url$|uri$|path$|file(?:name)?$|name$|length$|size$|type$|format$|version$|count$|timeout$|header$|field$|label$|prefix$|policy$|expir|_at$|enabled$|required$|placeholder|hint$|example|selector|pressed|schema|mode$|variable$|var$|env$|param$|prompt$|input$`,
  'i',
);
const DOTTED_IDENTIFIER = /^[A-Za-z_$][\w$]{0,100}(?:\.[A-Za-z_$][\w$]{0,100}){1,10}$/;
const WORD_PIECE = /[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+|[^A-Za-z\d]+/g;

/** Identifier-like values made of dictionary-looking words and small numbers (`DOC_Vector_5_32`). */
function isWordy(value: string): boolean {
  const pieces = value.match(WORD_PIECE) ?? [];
  let words = 0;
  for (const p of pieces) {
    if (/^[_.\- ]+$/.test(p)) continue;
    if (/^\d+$/.test(p)) {
      if (p.length > 4) return false;
      continue;
    }
    if (!/^[A-Za-z]+$/.test(p)) return false;
    const upper = p === p.toUpperCase();
    if (upper ? p.length < 2 : p.length < 3) return false;
    if (!upper && !/[aeiouy]/i.test(p)) return false;
    words++;
  }
  return words > 0;
}
const UUID_VALUE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Names the key of an XML `<add key="Name" value="…"/>` element that precedes `at`. */
function xmlKeyName(text: string, at: number): string | undefined {
  const from = Math.max(0, at - 120);
  const idx = text.lastIndexOf('key=', at);
  if (idx < from) return undefined;
  const q = text.charAt(idx + 4);
  if (q !== '"' && q !== "'") return undefined;
  const end = text.indexOf(q, idx + 5);
  return end === -1 || end > at ? undefined : text.slice(idx + 5, end);
}

function looksSecret(value: string, password: boolean, quoted: boolean): boolean {
  const minLength = password ? 6 : 10;
  if (value.length < minLength || value.length > 300) return false;
  if (isPlaceholder(value)) return false;
  if (/\s/.test(value) && !password) return false;
  if (/^(?:true|false|null|none|nil|undefined|yes|no|on|off)$/i.test(value)) return false;
  if (!quoted && (DOTTED_IDENTIFIER.test(value) || /[()[\]{}]/.test(value))) return false;
  if (value.includes('://') || value.startsWith('/') || value.startsWith('./')) return false;
  if (!password && isWordy(value)) return false;
  if (password) return shannonEntropy(value) >= 2.3 && !/^(?:[a-z]+|[A-Z]+)$/.test(value);
  return shannonEntropy(value) >= 3.0 && (hasDigitAndLetter(value) || shannonEntropy(value) >= 3.8);
}

type NameKind = 'password' | 'secret' | 'other';

function nameKind(key: string): NameKind {
  if (!SECRET_NAME.test(key) || NOT_SECRET_NAME.test(key)) return 'other';
  return PASSWORD_NAME.test(key) ? 'password' : 'secret';
}

/**
 * Assignments of secret-looking values to secret-like names, and of random-looking base64 to
 * any name. Both share one pass over the assignments.
 */
function findSecretAssignments(text: string): FoundSpan[] {
  const out: FoundSpan[] = [];
  const kinds = new Map<string, NameKind>();
  for (const a of findAssignments(text)) {
    let key = a.key;
    if (/^value$/i.test(key)) key = xmlKeyName(text, a.start) ?? key;
    let kind = kinds.get(key);
    if (kind === undefined) {
      kind = nameKind(key);
      kinds.set(key, kind);
    }
    if (kind === 'other') {
      if (!PUBLIC_NAME.test(key) && isHighEntropyValue(a.value)) {
        out.push({
          rule: 'high-entropy-assignment',
          start: a.start,
          end: a.start + a.value.length,
          score: 0.5,
        });
      }
      continue;
    }
    // `<entry key="name" value="…"/>`: the key attribute is a name, not a secret
    if (
      /^key$/i.test(key) &&
      /^["']\s{1,5}value\s{0,3}=/.test(text.slice(a.start + a.value.length, a.start + a.value.length + 16))
    )
      continue;
    const password = kind === 'password';
    if (!looksSecret(a.value, password, a.quoted)) continue;
    if (UUID_VALUE.test(a.value) && /(?:^|[_.-])key$|keyid/i.test(key)) continue;
    out.push({
      rule: password ? 'password-assignment' : 'generic-secret-assignment',
      start: a.start,
      end: a.start + a.value.length,
      score: password ? 0.7 : 0.6,
    });
  }
  return out;
}

function validHeaderValue(value: string): boolean {
  if (isPlaceholder(value) || value.length < 8) return false;
  return shannonEntropy(value) >= 2.5;
}

/** `Basic` credentials must be base64 of `user:password`. */
function validBasic(value: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return false;
  return Buffer.from(value, 'base64').toString('latin1').includes(':');
}

export const GENERIC_RULES: readonly SecretRule[] = [
  {
    kind: 'scanner',
    id: 'generic-secret-assignment',
    family: 'generic',
    description:
      'Secret-looking value assigned to a key/secret/token/password name (emits generic-secret-assignment, password-assignment) or random base64 assigned to any name (high-entropy-assignment)',
    keywords: [],
    patterns: [
      SECRET_NAME,
      PASSWORD_NAME,
      PUBLIC_NAME,
      NOT_SECRET_NAME,
      DOTTED_IDENTIFIER,
      WORD_PIECE,
      UUID_VALUE,
      BASE64_VALUE,
      OPERATOR,
    ],
    find: (text) => findSecretAssignments(text),
  },
  pattern(
    'authorization-bearer',
    'generic',
    'Authorization header with a bearer / token credential',
    ['authorization'],
    /authorization["']?\s{0,3}[:=]\s{0,3}["']?(?:bearer|token)\s{1,3}([A-Za-z0-9._~+/=@%:-]{8,4000})/i,
    { group: 1, allowPlaceholder: true, validate: validHeaderValue },
  ),
  pattern(
    'authorization-basic',
    'generic',
    'Authorization header with Basic credentials',
    ['basic'],
    /authorization["']?\s{0,3}[:=]\s{0,3}["']?basic\s{1,3}([A-Za-z0-9+/]{4,2000}={0,2})(?![\w.=+/-])/i,
    { group: 1, validate: validBasic },
  ),
  pattern(
    'curl-auth-header',
    'generic',
    'curl -H with an authorization / token / API-key header',
    ['-h', '--header'],
    /(?:-H|--header)\s{1,4}["']?(?:authorization|[\w-]{0,30}(?:token|api-?key|secret|auth)[\w-]{0,20})\s{0,3}:\s{0,3}(?:(?:bearer|token)\s{1,3})?([^\s"'$]{8,4000})/i,
    { group: 1, allowPlaceholder: true, validate: (v) => validHeaderValue(v) && !/^basic$/i.test(v) },
  ),
  pattern(
    'curl-auth-user',
    'generic',
    'curl -u / --user with an inline password',
    ['-u', '--user'],
    /(?:^|\s)(?:-u|--user)\s{1,4}["']?[^\s"':$]{1,100}:["']?([^\s"']{3,200})/,
    { group: 1, validate: (v) => !isPlaceholder(v) && v.length >= 6 },
  ),
];
