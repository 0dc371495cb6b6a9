import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../../src/config/index.js';

interface Def {
  readonly type: string;
  readonly innerType?: { _zod: { def: Def } };
  readonly shape?: Record<string, { _zod: { def: Def } }>;
  readonly element?: { _zod: { def: Def } };
  readonly valueType?: { _zod: { def: Def } };
  /** A pipe (`.transform`) validates with `in` first. */
  readonly in?: { _zod: { def: Def } };
  /** A union (for example a discriminated one): its object options' keys together. */
  readonly options?: readonly { _zod: { def: Def } }[];
}

const isObjectLike = (def: Def): boolean =>
  def.type === 'object' ||
  (def.type === 'union' && (def.options ?? []).every((o) => o._zod.def.type === 'object'));

/** Every leaf key of the schema, as `a.b`, `a.<name>.c` (records) and `a[].b` (lists). */
function leafKeys(def: Def, prefix: string): string[] {
  if ((def.type === 'default' || def.type === 'prefault' || def.type === 'optional') && def.innerType) {
    return leafKeys(def.innerType._zod.def, prefix);
  }
  if (def.type === 'pipe' && def.in) return leafKeys(def.in._zod.def, prefix);
  if (def.type === 'object' && def.shape) {
    return Object.entries(def.shape).flatMap(([k, v]) => leafKeys(v._zod.def, prefix ? `${prefix}.${k}` : k));
  }
  if (def.type === 'union' && def.options && isObjectLike(def)) {
    return [...new Set(def.options.flatMap((o) => leafKeys(o._zod.def, prefix)))];
  }
  if (def.type === 'array' && def.element && isObjectLike(def.element._zod.def)) {
    return leafKeys(def.element._zod.def, `${prefix}[]`);
  }
  if (def.type === 'record' && def.valueType && def.valueType._zod.def.type === 'object') {
    return leafKeys(def.valueType._zod.def, `${prefix}.<name>`);
  }
  return [prefix];
}

describe('docs/CONFIGURATION.md', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/CONFIGURATION.md', import.meta.url)), 'utf8');
  const keys = leafKeys(configSchema._zod.def as Def, '');

  it('documents every key of the schema', () => {
    assert.ok(keys.length > 40, `walked ${keys.length} keys`);
    const missing = keys.filter((k) => !doc.includes(`| \`${k}\` |`));
    assert.deepEqual(missing, []);
  });

  it('documents no key the schema does not have', () => {
    const documented = [...doc.matchAll(/^\| `([a-zA-Z_.<>[\]]+)` \| /gm)].map((m) => m[1]!);
    const unknown = documented.filter((k) => !keys.includes(k) && !k.startsWith('ZTGATE_'));
    assert.deepEqual(unknown, []);
  });
});
