import type { CedarValueJson, EntityJson } from './cedar.js';
import {
  controlContext,
  modelEntity,
  summarizeFindings,
  toTypeAndId,
  uidKey,
  type BuildResult,
  type TypeAndId,
} from './entities.js';
import { pruneAttrs, pruneRecord, type FastIndex } from './fast-index.js';
import type { DecisionInput, ModelAttributes, ModelCatalogue } from './types.js';
import { NAMESPACE } from './types.js';

// The fast-path request for the shipped schema (see fast-index.ts for what is left out and why).

const t = (name: string): string => `${NAMESPACE}::${name}`;

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
  release_quarantine: 'Gateway',
  approve_tool_call: 'Gateway',
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
  const c = input.control;
  if (c) {
    if (
      !isStr(c.actor) ||
      !isStrArray(c.priorApprovers) ||
      (c.requestedBy !== undefined && !isStr(c.requestedBy))
    )
      return FALLBACK;
    Object.assign(full, controlContext(c));
  }
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
