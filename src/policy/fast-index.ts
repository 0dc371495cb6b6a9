import type { CedarValueJson, EntityJson } from './cedar.js';
import { toTypeAndId, uidKey, type EntityIndex, type TypeAndId } from './entities.js';

// ---------------------------------------------------------------------------------------------
// Fast path (shipped schema only): a request that conforms to the schema by construction.
//
// `buildRequest` (entities.ts) is the reference. `buildFastRequest` (fast-request.ts) produces
// a request that Cedar evaluates identically, but that is cheaper to hand to the engine:
//  - every value is checked here against the shipped schema's type, so the engine is called
//    without the schema and without request validation; anything that does not provably
//    conform returns `fallback` and the caller takes the reference path (schema + validation);
//  - an entity is sent only when a policy can read it as a value: principal, resource, device,
//    `context.workspace`, and any entity a policy names as a literal in a condition (when
//    `buildRequest` would have sent it). Ancestors are flattened into `parents` (Cedar's
//    transitive closure over the entities `buildRequest` would have sent), so `in` answers the
//    same without sending the groups and workspaces themselves.
// ---------------------------------------------------------------------------------------------

/** Per bundle, computed once at load: ancestor closures and the entity literals of policies. */
export interface FastIndex {
  readonly entities: EntityIndex;
  /** Transitive ancestors of each bundle entity (through bundle entities only). */
  readonly ancestors: ReadonlyMap<string, readonly TypeAndId[]>;
  /** `Type::id` keys of entities that policy conditions name as literals. */
  readonly literals: ReadonlySet<string>;
  /** Attribute names policies read (`.`, `has`); undefined: keep every attribute. */
  readonly names: ReadonlySet<string> | undefined;
  /** Context paths some policy uses as a whole value (kept entire). */
  readonly wholeContext: ReadonlySet<string>;
  /** The same without attribute pruning (every schema attribute sent), for conformance tests. */
  readonly unpruned?: FastIndex;
}

/** What the bundle's policy conditions reference (bundle.ts computes it at load). */
export interface PolicyUsage {
  readonly literals: ReadonlySet<string>;
  readonly names: ReadonlySet<string>;
  readonly wholeContext: ReadonlySet<string>;
}

/** Marks, in `PolicyUsage.names`, a condition form not understood: keep every attribute. */
export const ALL_NAMES = '\0*';

/** Keeps the attributes whose name some policy reads (all, when `names` is undefined). */
export function pruneAttrs(
  attrs: Record<string, CedarValueJson>,
  names: ReadonlySet<string> | undefined,
): Record<string, CedarValueJson> {
  if (!names) return attrs;
  const out: Record<string, CedarValueJson> = {};
  for (const k in attrs) if (names.has(k)) out[k] = attrs[k] as CedarValueJson;
  return out;
}

/** Drops context attributes no policy can observe (see bundle.ts `collectUsage`). */
export function pruneRecord(
  record: Record<string, CedarValueJson>,
  path: string,
  fast: FastIndex,
): Record<string, CedarValueJson> {
  const names = fast.names;
  if (!names || fast.wholeContext.has(path)) return record;
  const out: Record<string, CedarValueJson> = {};
  for (const k in record) {
    if (!names.has(k)) continue;
    const v = record[k] as CedarValueJson;
    out[k] =
      v !== null && typeof v === 'object' && !Array.isArray(v) && !('__entity' in v)
        ? pruneRecord(v as Record<string, CedarValueJson>, path === '' ? k : `${path}.${k}`, fast)
        : v;
  }
  return out;
}

/** The FastIndex of a bundle's entities, given what its policies reference. */
export function fastIndexOf(index: EntityIndex, usage: PolicyUsage): FastIndex {
  const names = usage.names.has(ALL_NAMES) ? undefined : usage.names;
  const ancestors = new Map<string, TypeAndId[]>();
  for (const [key, entity] of index) {
    const seen = new Map<string, TypeAndId>();
    const queue = entity.parents.map(toTypeAndId);
    while (queue.length) {
      const uid = queue.pop() as TypeAndId;
      const k = uidKey(uid);
      if (seen.has(k)) continue;
      seen.set(k, uid);
      const parent = index.get(k);
      if (parent) for (const p of parent.parents) queue.push(toTypeAndId(p));
    }
    ancestors.set(key, [...seen.values()]);
  }
  const pruned = new Map<string, EntityJson>();
  for (const [key, e] of index) pruned.set(key, { ...e, attrs: pruneAttrs(e.attrs, names) });
  const unpruned = {
    entities: index,
    ancestors,
    literals: usage.literals,
    names: undefined,
    wholeContext: usage.wholeContext,
  };
  return { ...unpruned, entities: pruned, names, unpruned };
}
