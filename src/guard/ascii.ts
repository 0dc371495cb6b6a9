/**
 * True when every character is ASCII (the fast paths of normalisation and decoding): the UTF-8
 * length equals the UTF-16 length only then. Native, so about 20× faster than a charCodeAt loop
 * (bench/guard); a lone surrogate counts three UTF-8 bytes, so it is not ASCII either.
 */
export function isAscii(text: string): boolean {
  return Buffer.byteLength(text, 'utf8') === text.length;
}
