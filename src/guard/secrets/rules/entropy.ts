/**
 * High-entropy values assigned to any name (`mimi=gX69YO4CvBsVjzAwYxdGyDd30t5+9ez31gKATtj4`),
 * in the manner of detect-secrets' Base64HighEntropyString: long, random-looking base64.
 */
import { isPlaceholder, shannonEntropy } from '../text.js';
import { mixedCase } from './build.js';

export const BASE64_VALUE = /^[A-Za-z0-9+/_-]{20,300}={0,2}$/;
const MIN_ENTROPY = 4.5;

export function isHighEntropyValue(v: string): boolean {
  return BASE64_VALUE.test(v) && mixedCase(v) && !isPlaceholder(v) && shannonEntropy(v) >= MIN_ENTROPY;
}
