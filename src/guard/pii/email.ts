/** EMAIL_ADDRESS: found by expanding around each '@' (bounded, so linear), then validated. */
import type { Detection, Recognizer } from '../types.js';
import { contextScore, detection, words } from './shared.js';
import { isValidHostname } from './hosts.js';

const MAX_LOCAL = 64;
const MAX_DOMAIN = 253;
const CONTEXT = words('email', 'mail', 'contact', 'address', 'courriel', 'correo');

function isLocalChar(c: number): boolean {
  return (
    (c >= 48 && c <= 57) ||
    (c >= 65 && c <= 90) ||
    (c >= 97 && c <= 122) ||
    c === 46 || // .
    c === 95 || // _
    c === 37 || // %
    c === 43 || // +
    c === 45 || // -
    c > 127
  );
}

function isDomainChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46 || c === 45;
}

/** Finds e-mail addresses; the domain must have a valid TLD (letters or punycode). */
export function createEmailRecognizer(): Recognizer {
  return {
    name: 'email',
    types: ['EMAIL_ADDRESS'],
    detect(text: string): Detection[] {
      const out: Detection[] = [];
      let at = text.indexOf('@');
      while (at !== -1) {
        if (at === 0 || !isLocalChar(text.charCodeAt(at - 1))) {
          at = text.indexOf('@', at + 1); // no local part: an '@' storm costs one step per '@'
          continue;
        }
        let start = at;
        while (start > 0 && at - start < MAX_LOCAL + 1 && isLocalChar(text.charCodeAt(start - 1))) {
          start--;
        }
        // INVARIANT: a local part cut by the length bound is refused, never truncated.
        const bounded = start === 0 || !isLocalChar(text.charCodeAt(start - 1));
        while (start < at && text.charCodeAt(start) === 46) start++;
        let end = at + 1;
        while (end < text.length && end - at <= MAX_DOMAIN && isDomainChar(text.charCodeAt(end))) {
          end++;
        }
        while (end > at + 1 && (text.charCodeAt(end - 1) === 46 || text.charCodeAt(end - 1) === 45)) {
          end--;
        }
        const local = text.slice(start, at);
        const domain = text.slice(at + 1, end);
        const localOk =
          local.length > 0 && local.length <= MAX_LOCAL && !local.endsWith('.') && !local.includes('..');
        if (bounded && localOk && isValidHostname(domain, false)) {
          out.push(
            detection('EMAIL_ADDRESS', start, end, contextScore(text, start, end, 0.9, CONTEXT), 'email'),
          );
        }
        at = text.indexOf('@', at + 1);
      }
      return out;
    },
  };
}
