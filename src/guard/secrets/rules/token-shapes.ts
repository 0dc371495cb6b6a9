/**
 * Structural checks for tokens whose format says more than a regex can: how long a GitLab
 * token body may be, and whether a PyPI macaroon is whole or cut off.
 */

/**
 * GitLab tokens without a routing suffix are at most 50 characters after the prefix (the
 * Kubernetes agent token is the longest; most are 20). Routable tokens carry a `.` before
 * their version and checksum, and may be longer.
 */
export const GITLAB_MAX_PLAIN_BODY = 50;

export function plausibleGitlabToken(value: string): boolean {
  const body = value.slice(value.indexOf('-') + 1);
  return body.includes('.') || body.length <= GITLAB_MAX_PLAIN_BODY;
}

/** How far a macaroon (binary v2, as in PyPI tokens) could be read. */
export type MacaroonRead = 'signed' | 'cut-off' | 'not-a-macaroon';

const MACAROON_V2 = 0x02;
const FIELD_EOS = 0;
const FIELD_IDENTIFIER = 2;
const FIELD_SIGNATURE = 6;
const KNOWN_FIELDS = new Set([1, FIELD_IDENTIFIER, 4, FIELD_SIGNATURE]);
const SIGNATURE_BYTES = 32;

/** Reads an unsigned LEB128 varint of at most 4 bytes; undefined when it runs past the end. */
function readVarint(bytes: Uint8Array, at: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let i = 0; i < 4 && at + i < bytes.length; i++) {
    const b = bytes[at + i] ?? 0;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return { value, next: at + i + 1 };
  }
  return undefined;
}

function isPrintableAscii(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes.every((b) => b >= 0x20 && b < 0x7f);
}

/**
 * Walks the fields of a v2 macaroon. `cut-off` means a readable identifier was followed by
 * the end of the data before the signature: an excerpt of a real token, not a usable one.
 * Anything that does not parse is `not-a-macaroon`, so that the caller can decide alone.
 */
export function readMacaroon(bytes: Uint8Array): MacaroonRead {
  if (bytes[0] !== MACAROON_V2) return 'not-a-macaroon';
  let sawIdentifier = false;
  const ended = (): MacaroonRead => (sawIdentifier ? 'cut-off' : 'not-a-macaroon');
  let at = 1;
  while (at < bytes.length) {
    const type = bytes[at] ?? FIELD_EOS;
    at++;
    if (type === FIELD_EOS) continue;
    if (!KNOWN_FIELDS.has(type)) return 'not-a-macaroon';
    const length = readVarint(bytes, at);
    if (length === undefined) return ended();
    at = length.next;
    if (at + length.value > bytes.length) return ended();
    if (type === FIELD_SIGNATURE) return length.value === SIGNATURE_BYTES ? 'signed' : 'not-a-macaroon';
    if (type === FIELD_IDENTIFIER && !sawIdentifier) {
      sawIdentifier = isPrintableAscii(bytes.subarray(at, at + length.value));
    }
    at += length.value;
  }
  return ended();
}

/** False for a PyPI token that is visibly the start of a longer one (`pypi-AgEI…` cut short). */
export function notCutOffPypiToken(value: string): boolean {
  const payload = value.slice(value.indexOf('-') + 1);
  return readMacaroon(Buffer.from(payload, 'base64url')) !== 'cut-off';
}
