// The Cedar request of a decision: entity uids and their helpers, the findings summary, and the
// reference builder (`buildRequest`: every entity the request reaches, every attribute; the
// engine validates it against the schema). The fast path's builder is in fast-request.ts.
import type { CedarValueJson, EntityJson, EntityUidJson } from './cedar.js';
import type { ControlContext, DecisionInput, FindingLike, ModelAttributes, ModelCatalogue } from './types.js';
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

/** A catalogue model as a Cedar entity (its workspaces as parents). */
export function modelEntity(id: string, m: ModelAttributes): EntityJson {
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
  if (input.control) Object.assign(context, controlContext(input.control));
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

/** The context attributes of a control action that needs more than one person. */
export function controlContext(c: ControlContext): Record<string, CedarValueJson> {
  return {
    actor: c.actor,
    priorApprovers: [...c.priorApprovers],
    ...(c.requestedBy !== undefined ? { requestedBy: c.requestedBy } : {}),
  };
}
