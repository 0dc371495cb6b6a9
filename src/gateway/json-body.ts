import { IngressError } from '../core/index.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Measures the nesting depth of a JSON text in one linear pass, without parsing it, so that a
 * hostile body cannot drive the parser into deep recursion.
 */
export function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

type WellFormedString = string & { isWellFormed(): boolean };

/** True when every string (keys too) in a parsed JSON value is well-formed UTF-16 (no lone surrogates). */
function allStringsWellFormed(value: unknown): boolean {
  if (typeof value === 'string') return (value as WellFormedString).isWellFormed();
  if (Array.isArray(value)) return value.every(allStringsWellFormed);
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (!(k as WellFormedString).isWellFormed() || !allStringsWellFormed(v)) return false;
    }
  }
  return true;
}

/**
 * Decodes and parses a JSON request body: strict UTF-8 (no silent replacement characters), a
 * bounded nesting depth, no lone surrogates, and a top-level object.
 */
export function parseJsonBody(raw: Buffer, maxDepth: number): Record<string, unknown> {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new IngressError('invalid_unicode', { publicDetail: 'The body is not valid UTF-8.' });
  }
  if (jsonDepthExceeds(text, maxDepth)) throw new IngressError('json_too_deep');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new IngressError('invalid_json');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new IngressError('invalid_request', { publicDetail: 'The body must be a JSON object.' });
  }
  if (!allStringsWellFormed(value)) {
    throw new IngressError('invalid_unicode', { publicDetail: 'A string contains a lone surrogate.' });
  }
  return value as Record<string, unknown>;
}
