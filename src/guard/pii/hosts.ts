/** Host name checks shared by the e-mail and URL recognizers. */

/**
 * Top-level domains accepted for bare domains and `www.` hosts. Common generic TLDs and country
 * codes; codes that are also common file extensions (md, sh, rs, py, pl, ps, cs, so, mk) are
 * left out so `README.md` or `app.py` are not read as domains.
 */
const KNOWN_TLDS = new Set(
  (
    'com net org edu gov mil int info biz io co ai app dev cloud tech online site xyz store ' +
    'shop blog news me tv us uk ca au nz de fr it es nl be ch at se no dk fi is ie pt gr cz sk ' +
    'hu ro bg hr si rs ba ee lv lt ua ru by kz tr il ae sa qa eg za ng ke ma tn in pk bd lk np ' +
    'cn hk tw jp kr sg my th vn ph id br ar cl pe mx uy ve ec bo lu li mc mt cy eu asia ' +
    'mobi name pro jobs travel museum aero coop cat gal'
  ).split(' '),
);

function labelOk(label: string): boolean {
  if (label.length === 0 || label.length > 63) return false;
  if (label.startsWith('-') || label.endsWith('-')) return false;
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c > 127;
    if (!ok) return false;
  }
  return true;
}

/**
 * A dotted host name with at least two labels. With `knownTld` the TLD must be in the list
 * above; otherwise any alphabetic TLD of 2+ letters (or an `xn--` punycode TLD) is accepted.
 */
export function isValidHostname(host: string, knownTld: boolean): boolean {
  if (host.length === 0 || host.length > 253) return false;
  const labels = host.split('.');
  if (labels.length < 2 || !labels.every(labelOk)) return false;
  const tld = labels[labels.length - 1] ?? '';
  if (knownTld) return KNOWN_TLDS.has(tld.toLowerCase());
  if (tld.toLowerCase().startsWith('xn--')) return tld.length > 4;
  return tld.length >= 2 && isAlpha(tld);
}

function isAlpha(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) | 32;
    if (c < 97 || c > 122) return false;
  }
  return true;
}
