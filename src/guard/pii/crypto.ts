/** CRYPTO: Bitcoin (Base58Check, bech32/bech32m) and Ethereum (0x + 40 hex, EIP-55) addresses. */
import type { Detection, Recognizer } from '../types.js';
import { isBase58Check, isBech32, isEthAddress } from './crypto-check.js';
import { contextScore, detection, forEachMatch, words } from './shared.js';
import type { PiiPattern } from './shared.js';

export const CRYPTO_PATTERNS = {
  base58: { name: 'btc_base58', regex: /(?<![\w])[13][1-9A-HJ-NP-Za-km-z]{25,34}(?![\w])/g },
  bech32: { name: 'btc_bech32', regex: /(?<![\w])(?:bc|tb|BC|TB)1[02-9ac-hj-np-zAC-HJ-NP-Z]{8,87}(?![\w])/g },
  eth: { name: 'eth', regex: /(?<![\w])0x[0-9a-fA-F]{40}(?![\w])/g },
} as const satisfies Record<string, PiiPattern>;

const CONTEXT = words('wallet', 'bitcoin', 'btc', 'eth', 'ethereum', 'crypto', 'address', 'send', 'pay');

export function createCryptoRecognizer(): Recognizer {
  const checks: readonly [PiiPattern, (s: string) => boolean, number][] = [
    [CRYPTO_PATTERNS.base58, isBase58Check, 0.8],
    [CRYPTO_PATTERNS.bech32, isBech32, 0.85],
    [CRYPTO_PATTERNS.eth, isEthAddress, 0.6],
  ];
  return {
    name: 'crypto',
    types: ['CRYPTO'],
    detect(text: string): Detection[] {
      const out: Detection[] = [];
      for (const [pattern, valid, base] of checks) {
        forEachMatch(pattern.regex, text, (m) => {
          if (!valid(m[0])) return;
          const s = m.index;
          const e = s + m[0].length;
          out.push(detection('CRYPTO', s, e, contextScore(text, s, e, base, CONTEXT), 'crypto'));
        });
      }
      return out;
    },
  };
}
