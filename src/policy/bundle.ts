import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { DetailedError, EntityJson } from './cedar.js';
import * as cedar from './cedar.js';
import { toTypeAndId, uidKey, type EntityIndex } from './entities.js';
import { PolicyBundleError } from './errors.js';
import { isObligationAnnotation, parseObligationAnnotation, type ParsedObligation } from './obligations.js';
import { parseTestFile, type BundleTestCase } from './testcase-format.js';

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
  listed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const digest = `sha256:${sha256(listed.map(([n, c]) => `${n}\0${sha256(c)}\n`).join(''))}`;

  const policies = Object.create(null) as Record<string, string>;
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
  return { digest, policyIds, preparsed: { policySetId, schemaName }, obligations, entities, tests };
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
    else if (entry.isFile() && /\.(cedar|cedarschema|json)$/.test(entry.name))
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
