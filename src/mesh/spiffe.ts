import { MeshError } from './errors.js';

/**
 * SPIFFE IDs (`spiffe://<trust-domain>/<path>`), parsed strictly as the SPIFFE-ID standard and
 * the reference implementations do: lower-case trust domain of `a-z 0-9 . - _`, no userinfo,
 * port, query, fragment or percent-encoding; path segments of `A-Z a-z 0-9 . - _`, none empty,
 * none `.` or `..`, no trailing slash; at most 2048 bytes.
 */
export interface SpiffeId {
  readonly trustDomain: string;
  /** `/kind/name`; empty for the trust domain's own ID. */
  readonly path: string;
  /** The canonical text, `spiffe://trust-domain/path`. */
  readonly id: string;
}

const PREFIX = 'spiffe://';
const MAX_LENGTH = 2048;
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

function invalid(text: string, why: string): MeshError {
  // The text is shown shortened: it may come from a peer's certificate.
  const shown = text.length > 120 ? `${text.slice(0, 120)}…` : text;
  return new MeshError('spiffe_id_invalid', `${JSON.stringify(shown)} is not a valid SPIFFE ID: ${why}`);
}

/** Checks a trust domain name (`example.org`); returns it. */
export function parseTrustDomain(text: string): string {
  if (!TRUST_DOMAIN.test(text)) {
    throw new MeshError(
      'spiffe_id_invalid',
      `${JSON.stringify(text.slice(0, 120))} is not a valid trust domain: use 1-255 of a-z 0-9 . - _`,
    );
  }
  return text;
}

function checkPath(text: string, path: string): void {
  if (path === '') return;
  if (path.endsWith('/')) throw invalid(text, 'the path ends with a slash');
  for (const segment of path.slice(1).split('/')) {
    if (segment === '') throw invalid(text, 'the path has an empty segment');
    if (segment === '.' || segment === '..') throw invalid(text, 'the path has a dot segment');
    if (!SEGMENT.test(segment))
      throw invalid(text, 'a path segment has a character other than A-Z a-z 0-9 . - _');
  }
}

/** Parses a SPIFFE ID; throws MeshError `spiffe_id_invalid`. */
export function parseSpiffeId(text: string): SpiffeId {
  if (Buffer.byteLength(text, 'utf8') > MAX_LENGTH) throw invalid(text, 'longer than 2048 bytes');
  if (!text.startsWith(PREFIX)) throw invalid(text, 'the scheme must be spiffe://');
  const rest = text.slice(PREFIX.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);
  if (trustDomain === '') throw invalid(text, 'the trust domain is missing');
  if (!TRUST_DOMAIN.test(trustDomain)) {
    throw invalid(text, 'the trust domain may hold only a-z 0-9 . - _ (no port, user, upper case or %)');
  }
  checkPath(text, path);
  return { trustDomain, path, id: `${PREFIX}${trustDomain}${path}` };
}

/** Parses the SPIFFE ID of a workload (leaf SVID): it must have a path. */
export function parseWorkloadId(text: string): SpiffeId {
  const id = parseSpiffeId(text);
  if (id.path === '') throw invalid(text, 'a workload ID needs a path (spiffe://trust-domain/kind/name)');
  return id;
}

/** `spiffe://<trust-domain>/<kind>/<name>`. */
export function workloadId(trustDomain: string, kind: string, name: string): SpiffeId {
  return parseWorkloadId(`${PREFIX}${trustDomain}/${kind}/${name}`);
}

/**
 * Which SPIFFE IDs may connect. Entries are exact IDs (`spiffe://td/agent/a1`) or prefix patterns
 * ending in `/*` (`spiffe://td/agent/*` matches every ID under `spiffe://td/agent/`, at any depth,
 * but not `spiffe://td/agent` itself). Nothing else is a wildcard.
 */
export class SpiffeAllowList {
  private readonly exact = new Set<string>();
  private readonly prefixes: string[] = [];
  readonly entries: readonly string[];

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      if (entry.endsWith('/*')) {
        const base = parseSpiffeId(entry.slice(0, -2));
        this.prefixes.push(`${base.id}/`);
      } else {
        if (entry.includes('*')) throw invalid(entry, 'a wildcard is allowed only as a final /*');
        this.exact.add(parseWorkloadId(entry).id);
      }
    }
    this.entries = [...entries];
  }

  get empty(): boolean {
    return this.exact.size === 0 && this.prefixes.length === 0;
  }

  /** Whether `id` (already parsed) is on the list. */
  allows(id: SpiffeId): boolean {
    if (this.exact.has(id.id)) return true;
    return this.prefixes.some((prefix) => id.id.startsWith(prefix));
  }
}
