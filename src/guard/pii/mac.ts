/** MAC_ADDRESS: six hex pairs joined by one consistent ':' or '-', or Cisco's dotted 4.4.4 form. */
import type { Recognizer } from '../types.js';
import { checkedRecognizer } from './checked.js';
import { words } from './shared.js';
import type { PiiPattern } from './shared.js';

export const MAC_PATTERNS: readonly PiiPattern[] = [
  {
    name: 'mac_address',
    regex:
      /(?<![\w:.-])(?:[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})(?![\w:.-])/g,
  },
];

/**
 * Speed only: a MAC address has five equal ':' / '-' separators three apart, or two dots five
 * apart; a text without such a layout cannot match.
 */
function macLayout(text: string): boolean {
  for (let i = text.indexOf('.'); i !== -1; i = text.indexOf('.', i + 1)) {
    if (text.charCodeAt(i + 5) === 46) return true;
  }
  for (const sep of [':', '-']) {
    const c = sep.charCodeAt(0);
    for (let i = text.indexOf(sep); i !== -1; i = text.indexOf(sep, i + 1)) {
      if (
        text.charCodeAt(i + 3) === c &&
        text.charCodeAt(i + 6) === c &&
        text.charCodeAt(i + 9) === c &&
        text.charCodeAt(i + 12) === c
      )
        return true;
    }
  }
  return false;
}

export function createMacRecognizer(): Recognizer {
  return checkedRecognizer({
    name: 'mac_address',
    type: 'MAC_ADDRESS',
    pattern: MAC_PATTERNS[0] as PiiPattern,
    // a run of one repeated pair (00:00:..., ff:ff:...) is a placeholder or broadcast
    validate: (raw) =>
      new Set(raw.toLowerCase().replaceAll('.', ':').replaceAll('-', ':').split(':')).size > 1,
    score: 0.6,
    gate: (_profile, text) => macLayout(text),
    context: words('mac', 'hardware', 'ethernet', 'wifi', 'bssid', 'nic'),
  });
}
