/** Small linear-time helpers shared by the secret rules and the engine. */

/** Lower-cases ASCII letters only, so that indices into the result are indices into the input. */
export function asciiLower(text: string): string {
  // Pure ASCII (the common case): the built-in lower-casing is the same and much faster.
  if (!NON_ASCII.test(text)) return text.toLowerCase();
  return text.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

const NON_ASCII = /[^\0-\x7f]/;

/** Shannon entropy in bits per character. */
export function shannonEntropy(value: string): number {
  if (value.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  const n = value.length;
  for (const c of counts.values()) {
    const p = c / n;
    bits -= p * Math.log2(p);
  }
  return bits;
}

const PLACEHOLDER_WORDS = [
  'changeme',
  'change_me',
  'example',
  'placeholder',
  'your_',
  'your-',
  'yourkey',
  'insert',
  'redacted',
  'dummy',
  'sample',
  'replace',
  'todo',
  'notreal',
  'fake',
];

/** The longest run of one repeated character. */
function longestRun(value: string): number {
  let best = 0;
  let run = 0;
  let prev = '';
  for (const ch of value) {
    run = ch === prev ? run + 1 : 1;
    prev = ch;
    if (run > best) best = run;
  }
  return best;
}

/**
 * True for values that are obviously not secrets: `xxxx`, `****`, `####`, `${VAR}`, `<...>`,
 * `%s`, `{{ ... }}`, words such as `changeme`, or long runs of one character.
 */
export function isPlaceholder(value: string): boolean {
  const lower = value.toLowerCase();
  if (/x{4}|\*{3}|#{3}|\.{3}/.test(lower)) return true;
  if (lower.includes('${') || lower.includes('{{') || lower.includes('$(') || lower.startsWith('$')) {
    return true;
  }
  if (lower.startsWith('<') && lower.endsWith('>')) return true;
  if (lower.startsWith('%') || lower.includes('%s')) return true;
  for (const w of PLACEHOLDER_WORDS) if (lower.includes(w)) return true;
  return longestRun(value) >= 6;
}

/** Builds a 128-entry membership table for an ASCII character class body such as `A-Za-z0-9_-`. */
export function charTable(classBody: string, caseInsensitive: boolean): Uint8Array {
  const table = new Uint8Array(128);
  const re = new RegExp(`^[${classBody}]$`, caseInsensitive ? 'i' : '');
  for (let c = 0; c < 128; c++) if (re.test(String.fromCharCode(c))) table[c] = 1;
  return table;
}

export function inTable(table: Uint8Array, code: number): boolean {
  return code < 128 && table[code] === 1;
}

/** Characters that may sit right before a secret value. */
export function isOpenDelimiter(code: number): boolean {
  // start-of-text is handled by callers; whitespace, quotes, backtick, = : , ( > [ { | /
  return (
    code === 32 ||
    code === 9 ||
    code === 10 ||
    code === 13 ||
    code === 34 ||
    code === 39 ||
    code === 96 ||
    code === 61 ||
    code === 58 ||
    code === 44 ||
    code === 40 ||
    code === 62 ||
    code === 91 ||
    code === 123 ||
    code === 124 ||
    code === 47
  );
}

/** Characters that may sit right after a secret value. */
export function isCloseDelimiter(text: string, at: number): boolean {
  if (at >= text.length) return true;
  const code = text.charCodeAt(at);
  if (code === 46) {
    // a sentence-ending dot, not `value.json`
    return at + 1 >= text.length || /\s/.test(text.charAt(at + 1));
  }
  return (
    code === 32 ||
    code === 9 ||
    code === 10 ||
    code === 13 ||
    code === 34 ||
    code === 39 ||
    code === 96 ||
    code === 59 ||
    code === 44 ||
    code === 41 ||
    code === 60 ||
    code === 93 ||
    code === 125 ||
    code === 38 ||
    code === 92
  );
}
