/** Connection strings and URLs with credentials; Kubernetes Secret manifests. */
import type { FoundSpan, SecretRule } from '../types.js';
import { isPlaceholder } from '../text.js';
import { pattern } from './build.js';

/** A password in a URL is real when it is not a template, a variable or a masked value. */
function realPassword(value: string): boolean {
  return value.length >= 3 && !isPlaceholder(value) && !/^(?:pass(?:word)?|pwd|secret)?\d{0,2}$/i.test(value);
}

const DATA_VALUE =
  /^\s{1,12}["']?([\w.-]{1,100})["']?\s{0,3}:\s{0,3}(\|[-+]?)?\s{0,3}["']?([A-Za-z0-9+/=]{0,20000})["']?\s{0,20}$/;

/** True when a YAML document declares `kind: Secret` (not SopsSecret, ExternalSecret, …). */
const SECRET_KIND = /(?:^|\n)[ \t]{0,8}kind:[ \t]{0,3}["']?secret["']?[ \t]{0,20}(?:\n|$)/;

function isSecretKind(lower: string): boolean {
  return SECRET_KIND.test(lower);
}

/**
 * Values under `data:` / `stringData:` of a Kubernetes Secret. Values shorter than 12 base64
 * characters (`YmFyCg==`) are too short to hold a credential worth blocking.
 */
function findKubernetesSecrets(text: string, lower: string): FoundSpan[] {
  const out: FoundSpan[] = [];
  let offset = 0;
  for (const doc of text.split(/\n---/)) {
    if (isSecretKind(lower.slice(offset, offset + doc.length))) scanSecretDoc(doc, offset, out);
    offset += doc.length + 4;
  }
  return out;
}

function isBase64Value(value: string): boolean {
  return value.length >= 12 && value.length % 4 === 0 && !isPlaceholder(value);
}

function scanSecretDoc(text: string, base: number, out: FoundSpan[]): void {
  const lines = text.split('\n');
  let offset = base;
  let inData = false;
  let blockFor = -1;
  for (const line of lines) {
    const trimmed = line.trim();
    if (/^(?:data|stringdata):\s{0,5}$/i.test(trimmed)) {
      inData = true;
    } else if (inData && /^\S/.test(line) && trimmed !== '') {
      inData = false;
    } else if (inData) {
      const m = DATA_VALUE.exec(line);
      const value = m?.[3] ?? '';
      if (m !== null && m[2] !== undefined && value === '') {
        blockFor = offset + line.length + 1;
      } else if (blockFor === offset && /^[A-Za-z0-9+/=]{12,20000}$/.test(trimmed)) {
        const start = offset + line.indexOf(trimmed);
        out.push({ rule: 'kubernetes-secret-yaml', start, end: start + trimmed.length, score: 0.85 });
      } else if (isBase64Value(value)) {
        const start = offset + line.lastIndexOf(value);
        out.push({ rule: 'kubernetes-secret-yaml', start, end: start + value.length, score: 0.85 });
      }
    }
    offset += line.length + 1;
  }
}

export const CONNECTION_RULES: readonly SecretRule[] = [
  pattern(
    'url-credentials',
    'connection',
    'Connection string / URL with a password (postgres://u:p@, mongodb+srv, redis, amqp, https://u:p@ …)',
    ['://'],
    /(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{1,20}:\/\/[^\s:@/"'`<>]{0,100}:([^\s@/"'`<>]{1,200})@[^\s@/"'`<>]{1,255}/i,
    { group: 1, allowPlaceholder: true, validate: realPassword, score: 0.85 },
  ),
  {
    kind: 'scanner',
    id: 'kubernetes-secret-yaml',
    family: 'connection',
    description: 'Data values of a Kubernetes Secret manifest',
    keywords: ['kind:'],
    patterns: [DATA_VALUE, SECRET_KIND],
    find: findKubernetesSecrets,
  },
];
