/**
 * Masks a value, keeping only what identifies it to a person who already knows it: the last
 * four digits of card, account and phone numbers, the first letter and the domain of an e-mail
 * address; everything else becomes `*` (at most 16, so the length does not leak beyond that).
 */
export function mask(type: string, value: string): string {
  if (type === 'EMAIL_ADDRESS') {
    const at = value.lastIndexOf('@');
    if (at > 0) return `${value[0]}***${value.slice(at)}`;
  }
  if (
    type === 'CREDIT_CARD' ||
    type === 'IBAN_CODE' ||
    type === 'PHONE_NUMBER' ||
    type === 'US_BANK_NUMBER'
  ) {
    const digits = value.replace(/[^0-9A-Za-z]/g, '');
    if (digits.length > 6) return `****${digits.slice(-4)}`;
  }
  return '*'.repeat(Math.min(16, Math.max(4, [...value].length)));
}
