import type { CedarValueJson, EntityJson, EntityUidJson } from './cedar.js';
import type { DecisionInput, FindingLike, ModelAttributes, ModelCatalogue } from './types.js';
import { NAMESPACE } from './types.js';

/** Bundle entities (groups, models, workspaces, tools) by `Type::id` key. */
export type EntityIndex = ReadonlyMap<string, EntityJson>;

export interface TypeAndId {
  readonly type: string;
  readonly id: string;
}

export interface CedarRequest {
  readonly principal: TypeAndId;
  readonly action: TypeAndId;
  readonly resource: TypeAndId;
  readonly context: Record<string, CedarValueJson>;
  readonly entities: EntityJson[];
}

export type BuildResult =
  { readonly ok: true; readonly request: CedarRequest } | { readonly ok: false; readonly error: string };

const t = (name: string): string => `${NAMESPACE}::${name}`;
export const uidKey = (uid: TypeAndId): string => `${uid.type}::${uid.id}`;

/** Normalises `{type,id}` and `{__entity:{type,id}}` to `{type,id}`. */
export function toTypeAndId(uid: EntityUidJson): TypeAndId {
  return '__entity' in uid ? uid.__entity : uid;
}

/** Finding types that count as secrets, and those that carry a prompt-injection score. */
export const SECRET_TYPES: ReadonlySet<string> = new Set(['SECRET', 'API_KEY', 'PRIVATE_KEY', 'PASSWORD']);
export const INJECTION_TYPES: ReadonlySet<string> = new Set(['PROMPT_INJECTION', 'JAILBREAK']);

/** The `findings` context record: entity types seen, secret count, max injection score ×1000. */
export function summarizeFindings(findings: readonly FindingLike[], dataClass: string): CedarValueJson {
  const types = new Set<string>();
  let secretCount = 0;
  let injection = 0;
  for (const f of findings) {
    types.add(f.type);
    if (SECRET_TYPES.has(f.type) || f.detector === 'secrets') secretCount++;
    if (INJECTION_TYPES.has(f.type) || f.detector === 'injection') {
      const score = Number.isFinite(f.score) ? (f.score as number) : 1;
      injection = Math.max(injection, Math.round(Math.min(1, Math.max(0, score)) * 1000));
    }
  }
  return { entityTypes: [...types].sort(), secretCount, injectionScore: injection, dataClass };
}

function modelEntity(id: string, m: ModelAttributes): EntityJson {
  return {
    uid: { type: t('Model'), id },
    attrs: {
      provider: m.provider,
      region: m.region,
      runtimeKind: m.runtimeKind,
      attestationKind: m.attestationKind,
      attested: m.attested,
      dataClasses: [...m.dataClasses],
    },
    parents: (m.workspaces ?? []).map((w) => ({ type: t('Workspace'), id: w })),
  };
}

/** Adds `start` and its ancestors (as the bundle knows them) to `out`, once each. */
function addWithAncestors(index: EntityIndex, start: TypeAndId, out: Map<string, EntityJson>): void {
  const queue = [start];
  while (queue.length) {
    const uid = queue.pop() as TypeAndId;
    const key = uidKey(uid);
    if (out.has(key)) continue;
    const entity = index.get(key);
    if (!entity) continue;
    out.set(key, entity);
    for (const p of entity.parents) queue.push(toTypeAndId(p));
  }
}

const PRINCIPAL_ATTRS = ['department', 'clearance', 'homeRegion'] as const;

/**
 * Builds the Cedar request for one decision: a handful of entities (principal and its groups,
 * device, resource, workspace) and the context. Fails closed: an unknown model, tool or
 * workspace, or a principal without an id, is an error, never a default.
 */
export function buildRequest(
  input: DecisionInput,
  index: EntityIndex,
  catalogue?: ModelCatalogue,
): BuildResult {
  const p = input.principal;
  if (!p) return { ok: false, error: 'policy.principal_missing' };
  if (typeof p.id !== 'string' || p.id === '') return { ok: false, error: 'policy.entity_missing:principal' };
  const out = new Map<string, EntityJson>();
  const principal = { type: t(p.kind === 'service' ? 'ServiceAccount' : 'User'), id: p.id };
  const attrs: Record<string, CedarValueJson> = { roles: [...p.roles], groups: [...p.groups] };
  for (const name of PRINCIPAL_ATTRS) {
    const v = p.attributes?.[name];
    if (v !== undefined)
      attrs[name] = Array.isArray(v) ? [...(v as readonly string[])] : (v as CedarValueJson);
  }
  const groups = p.groups.map((g) => ({ type: t('Group'), id: g }));
  out.set(uidKey(principal), { uid: principal, attrs, parents: groups });
  for (const g of groups) addWithAncestors(index, g, out);

  const resource = { type: t(input.resource.type), id: input.resource.id };
  if (input.resource.type === 'Model') {
    const fromCatalogue = catalogue?.get(input.resource.id);
    if (fromCatalogue) out.set(uidKey(resource), modelEntity(resource.id, fromCatalogue));
    else if (!index.has(uidKey(resource)))
      return { ok: false, error: `policy.entity_missing:${uidKey(resource)}` };
    addWithAncestors(index, resource, out);
  } else if (input.resource.type === 'Tool') {
    if (!index.has(uidKey(resource)))
      return { ok: false, error: `policy.entity_missing:${uidKey(resource)}` };
    addWithAncestors(index, resource, out);
  } else {
    out.set(uidKey(resource), { uid: resource, attrs: {}, parents: [] });
  }

  const context: Record<string, CedarValueJson> = {
    findings: summarizeFindings(input.findings, input.dataClass),
    risk: input.risk,
    deviceTrust: input.device?.trust ?? 'none',
    time: { hour: input.time.hour, weekday: input.time.weekday },
    networkZone: input.networkZone,
    residency: input.residency,
  };
  if (input.device) {
    const d = input.device;
    const uid = { type: t('Device'), id: d.id };
    out.set(uidKey(uid), {
      uid,
      attrs: { managed: d.managed, compliant: d.compliant, trust: d.trust },
      parents: [],
    });
    context.device = { __entity: uid };
  }
  if (input.workspace !== undefined) {
    const uid = { type: t('Workspace'), id: input.workspace };
    if (!index.has(uidKey(uid))) return { ok: false, error: `policy.entity_missing:${uidKey(uid)}` };
    addWithAncestors(index, uid, out);
    context.workspace = { __entity: uid };
  }
  return {
    ok: true,
    request: {
      principal,
      action: { type: t('Action'), id: input.action },
      resource,
      context,
      entities: [...out.values()],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Fast path (shipped schema only): a request that conforms to the schema by construction.
//
// `buildRequest` above is the reference. `buildFastRequest` produces a request that Cedar
// evaluates identically, but that is cheaper to hand to the engine:
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

function pruneAttrs(
  attrs: Record<string, CedarValueJson>,
  names: ReadonlySet<string> | undefined,
): Record<string, CedarValueJson> {
  if (!names) return attrs;
  const out: Record<string, CedarValueJson> = {};
  for (const k in attrs) if (names.has(k)) out[k] = attrs[k] as CedarValueJson;
  return out;
}

/** Drops context attributes no policy can observe (see bundle.ts `collectUsage`). */
function pruneRecord(
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

export type FastBuildResult = BuildResult | { readonly ok: 'fallback' };

const FALLBACK = { ok: 'fallback' } as const;
/** A string the engine reads as the same string (no lone UTF-16 surrogates). */
const isStr = (v: unknown): v is string =>
  typeof v === 'string' && (v as unknown as { isWellFormed(): boolean }).isWellFormed();
const isLong = (v: unknown): v is number => Number.isSafeInteger(v);
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
function isStrArray(v: unknown): v is readonly string[] {
  if (!Array.isArray(v)) return false;
  for (const s of v) if (!isStr(s)) return false;
  return true;
}

/** Resource type each action applies to in the shipped schema. */
const RESOURCE_OF: Readonly<Record<string, string>> = {
  chat: 'Model',
  embed: 'Model',
  transcribe: 'Model',
  invoke_tool: 'Tool',
  view_audit: 'Gateway',
  manage_policy: 'Gateway',
  manage_keys: 'Gateway',
  respond_incident: 'Gateway',
  manage_identity: 'Gateway',
};

function conformingModel(m: ModelAttributes): boolean {
  return (
    isStr(m.provider) &&
    isStr(m.region) &&
    isStr(m.runtimeKind) &&
    isStr(m.attestationKind) &&
    isBool(m.attested) &&
    isStrArray(m.dataClasses) &&
    (m.workspaces === undefined || isStrArray(m.workspaces))
  );
}

/**
 * The fast-path request for the shipped schema (see above). Fails closed exactly like
 * `buildRequest` (same checks, same order, same error codes); returns `fallback` when any value
 * is not provably of its schema type, so that the caller asks the engine with validation.
 * With `prune` false, every schema attribute is sent (the form the conformance test validates).
 */
export function buildFastRequest(
  input: DecisionInput,
  fastIndex: FastIndex,
  catalogue?: ModelCatalogue,
  prune = true,
): FastBuildResult {
  const fast = prune ? fastIndex : (fastIndex.unpruned ?? fastIndex);
  const index = fast.entities;
  const p = input.principal;
  if (!p) return { ok: false, error: 'policy.principal_missing' };
  if (typeof p.id !== 'string' || p.id === '') return { ok: false, error: 'policy.entity_missing:principal' };
  if (!isStr(p.id) || RESOURCE_OF[input.action] !== input.resource.type) return FALLBACK;
  if (!isStrArray(p.roles) || !isStrArray(p.groups)) return FALLBACK;

  // Keys of the entities `buildRequest` would send (only needed to honour policy literals).
  const sent = fast.literals.size ? new Set<string>() : undefined;
  const entities: EntityJson[] = [];

  const principal = { type: t(p.kind === 'service' ? 'ServiceAccount' : 'User'), id: p.id };
  const attrs: Record<string, CedarValueJson> = { roles: [...p.roles], groups: [...p.groups] };
  const a = p.attributes;
  if (a) {
    const { department, clearance, homeRegion } = a;
    if (department !== undefined) {
      if (!isStr(department)) return FALLBACK;
      attrs.department = department;
    }
    if (clearance !== undefined) {
      if (!isLong(clearance)) return FALLBACK;
      attrs.clearance = clearance;
    }
    if (homeRegion !== undefined) {
      if (!isStr(homeRegion)) return FALLBACK;
      attrs.homeRegion = homeRegion;
    }
  }
  const parents = new Map<string, TypeAndId>();
  for (const g of p.groups) {
    const uid = { type: t('Group'), id: g };
    const key = uidKey(uid);
    parents.set(key, uid);
    if (!index.has(key)) continue;
    sent?.add(key);
    for (const anc of fast.ancestors.get(key) ?? []) {
      const k = uidKey(anc);
      parents.set(k, anc);
      if (sent && index.has(k)) sent.add(k);
    }
  }
  const principalKey = uidKey(principal);
  entities.push({ uid: principal, attrs: pruneAttrs(attrs, fast.names), parents: [...parents.values()] });
  sent?.add(principalKey);

  const emitFromIndex = (key: string): void => {
    const e = index.get(key) as EntityJson;
    const anc = fast.ancestors.get(key) ?? [];
    entities.push({ uid: e.uid, attrs: e.attrs, parents: anc as TypeAndId[] });
    if (sent) {
      sent.add(key);
      for (const x of anc) {
        const k = uidKey(x);
        if (index.has(k)) sent.add(k);
      }
    }
  };

  const resource = { type: t(input.resource.type), id: input.resource.id };
  if (!isStr(resource.id)) return FALLBACK;
  const resourceKey = uidKey(resource);
  if (input.resource.type === 'Model') {
    const m = catalogue?.get(input.resource.id);
    if (m) {
      if (!conformingModel(m)) return FALLBACK;
      const e = modelEntity(resource.id, m);
      entities.push({ ...e, attrs: pruneAttrs(e.attrs, fast.names) });
      sent?.add(resourceKey);
    } else if (!index.has(resourceKey)) return { ok: false, error: `policy.entity_missing:${resourceKey}` };
    else if (resourceKey !== principalKey) emitFromIndex(resourceKey);
  } else if (input.resource.type === 'Tool') {
    if (!index.has(resourceKey)) return { ok: false, error: `policy.entity_missing:${resourceKey}` };
    emitFromIndex(resourceKey);
  } else {
    entities.push({ uid: resource, attrs: {}, parents: [] });
    sent?.add(resourceKey);
  }

  const findings = input.findings;
  for (const f of findings) if (!isStr(f.type)) return FALLBACK;
  const time = input.time;
  if (
    !isStr(input.dataClass) ||
    !isLong(input.risk) ||
    !isLong(time.hour) ||
    !isStr(time.weekday) ||
    !isStr(input.networkZone) ||
    !isStr(input.residency)
  )
    return FALLBACK;
  const d = input.device;
  if (d && !(isStr(d.id) && isStr(d.trust) && isBool(d.managed) && isBool(d.compliant))) return FALLBACK;
  const full: Record<string, CedarValueJson> = {
    findings: summarizeFindings(findings, input.dataClass),
    risk: input.risk,
    deviceTrust: d?.trust ?? 'none',
    time: { hour: time.hour, weekday: time.weekday },
    networkZone: input.networkZone,
    residency: input.residency,
  };
  let workspaceKey: string | undefined;
  if (d) full.device = { __entity: { type: t('Device'), id: d.id } };
  if (input.workspace !== undefined) {
    if (!isStr(input.workspace)) return FALLBACK;
    const uid = { type: t('Workspace'), id: input.workspace };
    workspaceKey = uidKey(uid);
    if (!index.has(workspaceKey)) return { ok: false, error: `policy.entity_missing:${workspaceKey}` };
    full.workspace = { __entity: uid };
  }
  const context = pruneRecord(full, '', fast);
  // Device and workspace are only reachable through the context (or a policy literal).
  if (d) {
    const uid = { type: t('Device'), id: d.id };
    const key = uidKey(uid);
    sent?.add(key);
    if ('device' in context || fast.literals.has(key)) {
      const deviceAttrs = { managed: d.managed, compliant: d.compliant, trust: d.trust };
      entities.push({ uid, attrs: pruneAttrs(deviceAttrs, fast.names), parents: [] });
    }
  }
  if (workspaceKey !== undefined) {
    if ('workspace' in context) emitFromIndex(workspaceKey);
    else if (sent) {
      sent.add(workspaceKey);
      for (const x of fast.ancestors.get(workspaceKey) ?? []) if (index.has(uidKey(x))) sent.add(uidKey(x));
    }
  }
  if (sent) {
    const emitted = new Set(entities.map((e) => uidKey(toTypeAndId(e.uid))));
    for (const key of fast.literals)
      if (sent.has(key) && !emitted.has(key) && index.has(key)) {
        emitted.add(key);
        emitFromIndex(key);
      }
  }
  return {
    ok: true,
    request: { principal, action: { type: t('Action'), id: input.action }, resource, context, entities },
  };
}
