import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { DetailedError, EntityJson } from './cedar.js';
import * as cedar from './cedar.js';
import { toTypeAndId, uidKey, type EntityIndex } from './entities.js';
import { ALL_NAMES, fastIndexOf, type FastIndex } from './fast-index.js';
import { PolicyBundleError } from './errors.js';
import {
  parseBundlePlaybooks,
  parseBundleRuntimes,
  PLAYBOOKS_FILE,
  RUNTIMES_FILE,
} from './bundle-runtimes.js';
import type { Playbook } from '../watch/playbook-schema.js';
import type { BundleRuntimeReference } from '../runtime/attestation/reference-schema.js';
import { compileGuard, type Guard } from './guard.js';
import { CandidateIndex } from './policy-index.js';
import { isObligationAnnotation, parseObligationAnnotation, type ParsedObligation } from './obligations.js';
import { parseTestFile, type BundleTestCase } from './testcase-format.js';
import { POLICY_ACTIONS } from './types.js';

/** Resolves from src/policy/*.ts and dist/policy/*.js alike. */
const SCHEMA_URL = new URL('../../src/policy/schema.cedarschema', import.meta.url);
let shippedSchema: string | undefined;
/** The shipped Cedar schema text (namespace Ztgate). */
export function defaultSchema(): string {
  shippedSchema ??= readFileSync(SCHEMA_URL, 'utf8');
  return shippedSchema;
}

export interface PolicyBundle {
  /** `sha256:<hex>` over the canonical listing of the bundle's files (docs/POLICY.md). */
  readonly digest: string;
  /** Policy ids (from `@id`), sorted. */
  readonly policyIds: readonly string[];
  /** Handles of the preparsed policy set and schema in the Cedar engine. */
  readonly preparsed: { readonly policySetId: string; readonly schemaName: string };
  /** Parsed obligations per permit policy id (only policies that carry any). */
  readonly obligations: ReadonlyMap<string, readonly ParsedObligation[]>;
  /** Entity data that is not per request, by `Type::id`. */
  readonly entities: EntityIndex;
  readonly tests: readonly BundleTestCase[];
  /** Reference values of attested runtimes by upstream id (runtimes.json; empty when absent). */
  readonly runtimes: ReadonlyMap<string, BundleRuntimeReference>;
  /** Incident playbooks (playbooks.yaml), when the bundle ships them. */
  readonly playbooks?: readonly Playbook[];
}

const messages = (errors: readonly DetailedError[]): string[] => errors.map((e) => e.message);
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** `files` maps bundle-relative paths (with `/`) to contents. Throws PolicyBundleError. */
export function compileBundle(files: ReadonlyMap<string, string>): PolicyBundle {
  const names = [...files.keys()].sort();
  const policyFiles = names.filter((n) => n.endsWith('.cedar') && !n.startsWith('tests/'));
  const testFiles = names.filter((n) => /^tests\/[^/]+\.json$/.test(n));
  const ownSchema = files.get('schema.cedarschema');
  const schema = ownSchema ?? defaultSchema();

  // Digest over exactly what decides: policies, schema (the shipped one under a fixed name),
  // entities and tests, as sorted `name\0sha256(content)\n` lines.
  const listed: [string, string][] = [...policyFiles, ...testFiles].map((n) => [n, files.get(n) ?? '']);
  listed.push([ownSchema === undefined ? '<builtin>/schema.cedarschema' : 'schema.cedarschema', schema]);
  if (files.has('entities.json')) listed.push(['entities.json', files.get('entities.json') ?? '']);
  if (files.has(RUNTIMES_FILE)) listed.push([RUNTIMES_FILE, files.get(RUNTIMES_FILE) ?? '']);
  if (files.has(PLAYBOOKS_FILE)) listed.push([PLAYBOOKS_FILE, files.get(PLAYBOOKS_FILE) ?? '']);
  listed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const digest = `sha256:${sha256(listed.map(([n, c]) => `${n}\0${sha256(c)}\n`).join(''))}`;

  const policies = Object.create(null) as Record<string, string>;
  /** Actions each policy's scope can match (undefined: any action). */
  const actionsOf = new Map<string, readonly string[] | undefined>();
  const scopes = new Map<string, ScopedPolicy>();
  const conditionsOf = new Map<string, unknown>();
  const usage: Usage = { literals: new Set(), names: new Set(), wholeContext: new Set() };
  const obligations = new Map<string, ParsedObligation[]>();
  const obligationErrors: string[] = [];
  for (const name of policyFiles) {
    const parts = cedar.policySetTextToParts(files.get(name) ?? '');
    if (parts.type === 'failure')
      throw new PolicyBundleError('policy.parse_failed', name, messages(parts.errors));
    if (parts.policy_templates.length)
      throw new PolicyBundleError('policy.template_unsupported', `${name} has policy templates`);
    for (const text of parts.policies) {
      const json = cedar.policyToJson(text);
      if (json.type === 'failure')
        throw new PolicyBundleError('policy.parse_failed', name, messages(json.errors));
      const annotations = json.json.annotations ?? {};
      const id = annotations.id;
      if (!id) throw new PolicyBundleError('policy.id_missing', `a policy in ${name} has no @id("…")`);
      if (id in policies) throw new PolicyBundleError('policy.id_duplicate', `duplicate policy id "${id}"`);
      policies[id] = text;
      actionsOf.set(id, scopedActions(json.json.action));
      const principal = scopeTest(json.json.principal);
      const resource = scopeTest(json.json.resource);
      scopes.set(id, {
        id,
        text,
        effect: json.json.effect === 'forbid' ? 'forbid' : 'permit',
        principal: principal ?? ALL,
        resource: resource ?? ALL,
        exact: principal !== undefined && resource !== undefined,
        guard: compileGuard(json.json.conditions),
      });
      conditionsOf.set(id, json.json.conditions);
      collectUsage(json.json.conditions, usage, false);
      const parsed: ParsedObligation[] = [];
      for (const [key, value] of Object.entries(annotations)) {
        if (!isObligationAnnotation(key)) continue;
        const errors: string[] = [];
        parsed.push(...parseObligationAnnotation(value, errors));
        obligationErrors.push(...errors.map((e) => `${id}: ${e}`));
        if (json.json.effect === 'forbid') obligationErrors.push(`${id}: obligations on a forbid policy`);
      }
      if (parsed.length) obligations.set(id, parsed);
    }
  }
  const policyIds = Object.keys(policies).sort();
  if (policyIds.length === 0)
    throw new PolicyBundleError('policy.bundle_empty', 'the bundle has no policies');
  if (obligationErrors.length)
    throw new PolicyBundleError(
      'policy.obligation_invalid',
      'unknown or malformed obligation',
      obligationErrors,
    );

  const schemaCheck = cedar.checkParseSchema(schema);
  if (schemaCheck.type === 'failure')
    throw new PolicyBundleError(
      'policy.schema_invalid',
      'schema does not parse',
      messages(schemaCheck.errors),
    );
  const validation = cedar.validate({ schema, policies: { staticPolicies: policies } });
  if (validation.type === 'failure')
    throw new PolicyBundleError('policy.validation_failed', 'validation failed', messages(validation.errors));
  if (validation.validationErrors.length)
    throw new PolicyBundleError(
      'policy.validation_failed',
      'policies do not validate against the schema',
      validation.validationErrors.map((e) => `${e.policyId}: ${e.error.message}`),
    );

  const entities = parseEntities(files.get('entities.json'), schema);
  const tests: BundleTestCase[] = [];
  for (const name of testFiles) {
    try {
      tests.push(...parseTestFile(name, files.get(name) ?? ''));
    } catch (err) {
      throw new PolicyBundleError('policy.tests_invalid', (err as Error).message);
    }
  }

  const policySetId = `pset:${digest}`;
  const schemaName = `schema:${sha256(schema)}`;
  const ps = cedar.preparsePolicySet(policySetId, { staticPolicies: policies });
  if (ps.type === 'failure')
    throw new PolicyBundleError('policy.parse_failed', 'preparse', messages(ps.errors));
  const sc = cedar.preparseSchema(schemaName, schema);
  if (sc.type === 'failure')
    throw new PolicyBundleError('policy.schema_invalid', 'preparse', messages(sc.errors));
  if (schema === defaultSchema()) {
    // Fast path (docs/POLICY.md, Performance): one preparsed policy set per action, holding
    // the policies whose action scope can match it. A policy whose scope excludes the request's
    // action can neither apply nor fail (Cedar evaluates the scope first, and short-circuits),
    // so the subset decides exactly as the whole set does, with the same policy ids.
    const actionSets = new Map<string, string>();
    const bySubset = new Map<string, string>();
    const scoped = new Map<string, PolicyList>();
    for (const action of POLICY_ACTIONS) {
      const ids = policyIds.filter((id) => {
        const named = actionsOf.get(id);
        return named === undefined || named.includes(action);
      });
      // Actions with the same subset share one preparsed set.
      const signature = ids.join('\0');
      let setId = bySubset.get(signature);
      if (setId === undefined) {
        setId = `${policySetId}#${action}`;
        const subset = Object.create(null) as Record<string, string>;
        for (const id of ids) subset[id] = policies[id] as string;
        const r = cedar.preparsePolicySet(setId, { staticPolicies: subset });
        if (r.type === 'failure')
          throw new PolicyBundleError('policy.parse_failed', 'preparse', messages(r.errors));
        bySubset.set(signature, setId);
        const list = ids.map((id) => scopes.get(id) as ScopedPolicy);
        const index = new CandidateIndex(
          list,
          ids.map((id) => conditionsOf.get(id)),
        );
        scoped.set(setId, { policies: list, index });
      }
      actionSets.set(action, setId);
    }
    FAST_PATHS.set(policySetId, { schemaName, actionSets, scoped, index: fastIndexOf(entities, usage) });
  }
  const runtimes = parseBundleRuntimes(files.get(RUNTIMES_FILE));
  const playbooks = parseBundlePlaybooks(files.get(PLAYBOOKS_FILE));
  return {
    digest,
    policyIds,
    preparsed: { policySetId, schemaName },
    obligations,
    entities,
    tests,
    runtimes,
    ...(playbooks ? { playbooks } : {}),
  };
}

/** What the engine's fast path needs, for bundles on the shipped schema. */
export interface FastPath {
  /** The preparsed schema the bundle was compiled with (the shipped one). */
  readonly schemaName: string;
  /** Preparsed per-action policy set ids. */
  readonly actionSets: ReadonlyMap<string, string>;
  /** Per action set id: its policies, with their scopes and condition guards. */
  readonly scoped: ReadonlyMap<string, PolicyList>;
  readonly index: FastIndex;
}

/** An action set's policies and their candidate index (policy-index.ts). */
export interface PolicyList {
  readonly policies: readonly ScopedPolicy[];
  readonly index: CandidateIndex;
}

/** A principal or resource scope as a test on `Type::id` keys (see engine.ts, subsets). */
export type ScopeTest =
  | { readonly op: 'All' }
  | { readonly op: '==' | 'in'; readonly key: string }
  | { readonly op: 'is'; readonly type: string; readonly inKey?: string };

export interface ScopedPolicy {
  readonly id: string;
  readonly text: string;
  readonly effect: 'permit' | 'forbid';
  readonly principal: ScopeTest;
  readonly resource: ScopeTest;
  /** Both scope tests are exact (a scope form not understood is tested as matching). */
  readonly exact: boolean;
  /** The policy's conditions within the guard fragment (guard.ts). */
  readonly guard: Guard;
}

const ALL: ScopeTest = { op: 'All' };

/** Cedar's JSON scope as a ScopeTest; undefined when not understood (then tested as `All`). */
function scopeTest(scope: unknown): ScopeTest | undefined {
  const s = scope as { op?: unknown; entity?: unknown; entity_type?: unknown; in?: { entity?: unknown } };
  const keyOf = (e: unknown): string | undefined => {
    const uid = e as { type?: unknown; id?: unknown } | undefined;
    return uid && typeof uid.type === 'string' && typeof uid.id === 'string'
      ? uidKey({ type: uid.type, id: uid.id })
      : undefined;
  };
  if (s.op === '==' || s.op === 'in') {
    const key = keyOf(s.entity);
    return key === undefined ? undefined : { op: s.op, key };
  }
  if (s.op === 'is' && typeof s.entity_type === 'string') {
    if (s.in === undefined) return { op: 'is', type: s.entity_type };
    const inKey = keyOf(s.in.entity);
    return inKey === undefined ? undefined : { op: 'is', type: s.entity_type, inKey };
  }
  return s.op === 'All' ? ALL : undefined;
}

/**
 * By preparsed policy set id (which names the bundle digest), like the engine's own cache of
 * preparsed sets; a copy of a bundle with other `preparsed` handles does not match.
 */
const FAST_PATHS = new Map<string, FastPath>();

/** The fast path of a bundle compiled on the shipped schema, if its handles are the originals. */
export function fastPathOf(bundle: PolicyBundle): FastPath | undefined {
  const fast = FAST_PATHS.get(bundle.preparsed.policySetId);
  return fast && fast.schemaName === bundle.preparsed.schemaName ? fast : undefined;
}

/** Action ids a policy's action scope names, or undefined when it can match any action. */
function scopedActions(scope: unknown): readonly string[] | undefined {
  const s = scope as { op?: string; entity?: { id?: unknown }; entities?: { id?: unknown }[] };
  const ids =
    s.op === '==' || (s.op === 'in' && s.entity)
      ? [s.entity?.id]
      : s.op === 'in'
        ? (s.entities ?? []).map((e) => e.id)
        : undefined;
  if (!ids || !ids.every((id): id is string => typeof id === 'string')) return undefined;
  return ids;
}

interface Usage {
  /** `Type::id` keys of every entity literal (`{"__entity": …}`). */
  readonly literals: Set<string>;
  /** Every attribute name read with `.` or tested with `has`, on anything. */
  readonly names: Set<string>;
  /** Context paths (`""`, `"findings"`, …) whose value is used as a whole, not only read from. */
  readonly wholeContext: Set<string>;
}

/** The context path an expression denotes (`context` → "", `context.a.b` → "a.b"), if any. */
function contextPath(node: unknown): string | undefined {
  const n = node as { Var?: unknown; '.'?: { left: unknown; attr: unknown } };
  if (n.Var === 'context') return '';
  const dot = n['.'];
  if (!dot || typeof dot.attr !== 'string') return undefined;
  const left = contextPath(dot.left);
  return left === undefined ? undefined : left === '' ? dot.attr : `${left}.${dot.attr}`;
}

/**
 * Walks policy conditions (Cedar's JSON form). An attribute can only be observed by name
 * (`.attr`, `has attr`), or as part of a whole record value (`context.time == {…}`); so an
 * attribute whose name no policy reads, under a context path no policy uses whole, can be left
 * out of the request without changing any decision.
 */
function collectUsage(node: unknown, usage: Usage, readFrom: boolean): void {
  if (Array.isArray(node)) {
    for (const x of node) collectUsage(x, usage, false);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const path = readFrom ? undefined : contextPath(node);
  if (path !== undefined) usage.wholeContext.add(path);
  const e = (node as { __entity?: { type?: unknown; id?: unknown } }).__entity;
  if (e && typeof e.type === 'string' && typeof e.id === 'string')
    usage.literals.add(uidKey({ type: e.type, id: e.id }));
  for (const [key, value] of Object.entries(node)) {
    const access = value as { left?: unknown; attr?: unknown } | null;
    if ((key === '.' || key === 'has') && access && typeof access === 'object' && 'left' in access) {
      const attrs: unknown[] = Array.isArray(access.attr) ? access.attr : [access.attr];
      for (const a of attrs) usage.names.add(typeof a === 'string' ? a : ALL_NAMES);
      collectUsage(access.left, usage, true);
      for (const [k, v] of Object.entries(access)) if (k !== 'left') collectUsage(v, usage, false);
    } else collectUsage(value, usage, false);
  }
}

function parseEntities(text: string | undefined, schema: string): EntityIndex {
  const index = new Map<string, EntityJson>();
  if (text === undefined) return index;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new PolicyBundleError('policy.entities_invalid', 'entities.json is not valid JSON');
  }
  if (!Array.isArray(json))
    throw new PolicyBundleError('policy.entities_invalid', 'entities.json must be an array');
  const entities = json as EntityJson[];
  const check = cedar.checkParseEntities({ entities, schema });
  if (check.type === 'failure')
    throw new PolicyBundleError(
      'policy.entities_invalid',
      'entities do not match the schema',
      messages(check.errors),
    );
  for (const e of entities) {
    const uid = toTypeAndId(e.uid);
    index.set(uidKey(uid), { uid, attrs: e.attrs ?? {}, parents: (e.parents ?? []).map(toTypeAndId) });
  }
  return index;
}

async function listFiles(root: string, dir: string, out: Map<string, string>): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) await listFiles(root, full, out);
    else if (
      entry.isFile() &&
      (/\.(cedar|cedarschema|json)$/.test(entry.name) || entry.name === PLAYBOOKS_FILE)
    )
      out.set(relative(root, full).split(sep).join('/'), await readFile(full, 'utf8'));
  }
}

/** Loads and compiles the bundle in `dir`. Throws PolicyBundleError. */
export async function loadBundle(dir: string): Promise<PolicyBundle> {
  const files = new Map<string, string>();
  try {
    await listFiles(dir, dir, files);
  } catch (err) {
    throw new PolicyBundleError('policy.bundle_unreadable', `cannot read ${dir}: ${(err as Error).message}`);
  }
  return compileBundle(files);
}
