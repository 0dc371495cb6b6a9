import type { Finding, ModelRequest } from '../core/index.js';
import { DATA_CLASSES, type DataClass } from './types.js';

export interface ClassRule {
  readonly class: DataClass;
  readonly types: readonly string[];
}

/** Built-in rules: secrets are restricted; identifiers that open accounts are confidential. */
export const BUILTIN_CLASS_RULES: readonly ClassRule[] = [
  { class: 'restricted', types: ['SECRET'] },
  {
    class: 'confidential',
    types: [
      'CREDIT_CARD',
      'US_SSN',
      'US_ITIN',
      'US_PASSPORT',
      'US_DRIVER_LICENSE',
      'US_BANK_NUMBER',
      'ABA_ROUTING_NUMBER',
      'IBAN_CODE',
      'CRYPTO',
      'UK_NHS',
      'UK_NINO',
      'ES_NIF',
      'ES_NIE',
      'IT_FISCAL_CODE',
      'FI_PERSONAL_IDENTITY_CODE',
      'IN_PAN',
      'IN_AADHAAR',
      'AU_TFN',
      'AU_ABN',
      'SG_NRIC_FIN',
      'PL_PESEL',
      'MEDICAL_LICENSE',
    ],
  },
];

const rank = (c: DataClass): number => DATA_CLASSES.indexOf(c);
const higher = (a: DataClass, b: DataClass): DataClass => (rank(b) > rank(a) ? b : a);

export function isDataClass(x: unknown): x is DataClass {
  return typeof x === 'string' && (DATA_CLASSES as readonly string[]).includes(x);
}

/** `data_class` labels on the request's messages (context items a client marked). */
export function labelsOf(request: ModelRequest): DataClass[] {
  if (request.route !== 'chat.completions') return [];
  return request.body.messages.map((m) => m.data_class).filter(isDataClass);
}

/**
 * The request's data class: the highest of the base class, every rule whose types were found,
 * and (when honoured) the labels on its messages. Labels raise the class, never lower it.
 */
export function classify(
  base: DataClass,
  findings: readonly Finding[],
  rules: readonly ClassRule[],
  labels: readonly DataClass[],
): DataClass {
  const found = new Set(findings.map((f) => f.type));
  let out = base;
  for (const rule of rules) if (rule.types.some((t) => found.has(t))) out = higher(out, rule.class);
  for (const label of labels) out = higher(out, label);
  return out;
}
