import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { policySetTextToParts, policyToJson, validate } from '../policy/cedar.js';
import {
  defaultSchema,
  loadBundle,
  PolicyBundleError,
  runBundleTests,
  type PolicyBundle,
} from '../policy/index.js';
import {
  DEFAULT_SIGNING_KEY,
  signBundle,
  type DsseEnvelope,
  verifyBundleSignature,
} from '../policy/signing.js';
import { controlAuditEntry } from '../gateway/control-audit.js';
import { parse, UsageError } from './args.js';
import { withKeyContext } from './key-context.js';
import { simulateCommand } from './policy-simulate.js';

export const DEFAULT_BUNDLE = 'examples/policies/default';

export const POLICY_USAGE = `ztgate policy test [--bundle DIR]
ztgate policy lint [--bundle DIR]
ztgate policy digest [--bundle DIR]
ztgate policy sign --bundle DIR [--key NAME] [--home DIR]
ztgate policy verify [--bundle DIR] [--key NAME] [--home DIR]
ztgate policy simulate --bundle DIR [--since 24h] [--home DIR] [--examples N] [--json]
  Work with a Cedar policy bundle (docs/POLICY.md); DIR defaults to ${DEFAULT_BUNDLE}.
  test runs the bundle's tests/*.json cases and ends with "N passed, M failed" (exit 1 on a
  failure); lint reports policies that can never apply (exit 1 on a finding); digest prints
  the bundle digest. A bundle that does not load exits 2 with its error code.
  sign writes DIR/bundle.sig.json, a DSSE envelope over the bundle digest signed with the key
  NAME (default ${DEFAULT_SIGNING_KEY}, created as ed25519 when missing), and prints the key id
  and digest; verify checks it with the configured key provider (exit 1 with the reason code
  when it is missing or does not verify).
  simulate replays the decision inputs recorded in the audit store (of the last --since, e.g.
  24h; all by default) against the bundle and reports how many decisions would go from allowed
  to denied, denied to allowed, or keep allowing with other obligations, with up to N examples
  each (default 5). It reads the store only; the gateway need not run.`;

const out = (text: string): void => void process.stdout.write(text + '\n');

/** Loads the bundle, or prints the stable error code and returns undefined. */
async function load(dir: string): Promise<PolicyBundle | undefined> {
  try {
    return await loadBundle(dir);
  } catch (err) {
    if (err instanceof PolicyBundleError) {
      process.stderr.write(`ztgate policy: bundle ${dir} does not load: ${err.message}\n`);
      return undefined;
    }
    throw err;
  }
}

function test(bundle: PolicyBundle): number {
  const report = runBundleTests(bundle);
  for (const f of report.failed) {
    out(`FAIL ${f.name}`);
    out(`  expected: ${JSON.stringify(f.expected)}`);
    out(`  got:      ${JSON.stringify(f.got)}`);
  }
  out(`${report.passed} passed, ${report.failed.length} failed`);
  return report.failed.length === 0 ? 0 : 1;
}

// ---------------------------------------------------------------- lint

interface EntityRef {
  readonly type: string;
  readonly id: string;
}
/** A scope constraint as cedar-wasm's policy JSON has it. */
type Constraint =
  | { readonly op: 'All' }
  | { readonly op: '=='; readonly entity: EntityRef }
  | { readonly op: 'in'; readonly entity?: EntityRef; readonly entities?: readonly EntityRef[] }
  | { readonly op: 'is'; readonly entity_type: string; readonly in?: { readonly entity: EntityRef } };
interface PolicyJson {
  readonly effect: 'permit' | 'forbid';
  readonly principal: Constraint;
  readonly action: Constraint;
  readonly resource: Constraint;
  readonly conditions: readonly unknown[];
  readonly annotations?: Readonly<Record<string, string>>;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const key = (e: EntityRef): string => `${e.type}::${e.id}`;

/** The entity type a principal/resource constraint pins every match to, if any. */
function pinnedType(c: Constraint): string | undefined {
  if (c.op === '==') return c.entity.type;
  if (c.op === 'is') return c.entity_type;
  return undefined;
}

/** Whether every request matching `inner` (a principal or resource constraint) matches `outer`. */
function coversEntity(outer: Constraint, inner: Constraint): boolean {
  if (outer.op === 'All' || same(outer, inner)) return true;
  // `is T` with no `in` covers anything pinned to type T.
  if (outer.op === 'is' && outer.in === undefined) return pinnedType(inner) === outer.entity_type;
  return false;
}

/** The actions an action constraint lists, or undefined for "all" or an action group. */
function actionSet(c: Constraint): Set<string> | undefined {
  if (c.op === '==') return new Set([key(c.entity)]);
  if (c.op === 'in' && c.entities) return new Set(c.entities.map(key));
  return undefined;
}

function coversAction(outer: Constraint, inner: Constraint): boolean {
  if (outer.op === 'All' || same(outer, inner)) return true;
  const o = actionSet(outer);
  const i = actionSet(inner);
  return o !== undefined && i !== undefined && [...i].every((a) => o.has(a));
}

async function policyFiles(root: string, dir: string, found: string[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    const rel = relative(root, full).split(sep).join('/');
    if (entry.isDirectory()) {
      if (rel !== 'tests') await policyFiles(root, full, found);
    } else if (entry.isFile() && entry.name.endsWith('.cedar')) found.push(full);
  }
}

/** Findings (`policy-id: why`) about policies in the (already loaded, so valid) bundle `dir`. */
export async function lintBundle(dir: string): Promise<string[]> {
  const files: string[] = [];
  await policyFiles(dir, dir, files);
  const texts: Record<string, string> = Object.create(null) as Record<string, string>;
  const policies: [string, PolicyJson][] = [];
  for (const file of files.sort()) {
    const parts = policySetTextToParts(await readFile(file, 'utf8'));
    if (parts.type === 'failure') continue; // loadBundle already refused it
    for (const text of parts.policies) {
      const json = policyToJson(text);
      if (json.type === 'failure') continue;
      const p = json.json as unknown as PolicyJson;
      const id = p.annotations?.id ?? '?';
      texts[id] = text;
      policies.push([id, p]);
    }
  }
  const findings: string[] = [];

  // Cedar's validator knows when a scope names no applicable action, or when a policy is
  // false for every valid request; the loader only rejects errors, so report the warnings.
  let schema: string;
  try {
    schema = await readFile(join(dir, 'schema.cedarschema'), 'utf8');
  } catch {
    schema = defaultSchema();
  }
  const validation = validate({ schema, policies: { staticPolicies: texts } });
  if (validation.type === 'success') {
    for (const w of validation.validationWarnings) findings.push(`${w.policyId}: ${w.error.message}`);
  }

  // A permit whose whole scope is inside an unconditional forbid's scope can never allow.
  const forbids = policies.filter(([, p]) => p.effect === 'forbid' && p.conditions.length === 0);
  for (const [id, p] of policies) {
    if (p.effect !== 'permit') continue;
    const shadow = forbids.find(
      ([, f]) =>
        coversEntity(f.principal, p.principal) &&
        coversAction(f.action, p.action) &&
        coversEntity(f.resource, p.resource),
    );
    if (shadow) findings.push(`${id}: permit is shadowed by unconditional forbid "${shadow[0]}"`);
  }
  return [...new Set(findings)].sort();
}

/** `ztgate policy sign`: signs with the configured key provider, audited as `policy.sign`. */
function sign(dir: string, keyName: string, home: string | undefined): Promise<number> {
  return withKeyContext(home, 'policy sign', async ({ service, store, actor }) => {
    const audit = (outcome: 'ok' | 'failed', target: string, details: string[], errorCode?: string) =>
      store.audit.append(
        controlAuditEntry({
          action: 'policy.sign',
          target,
          actor,
          authMethod: 'cli',
          outcome,
          details,
          ...(errorCode ? { errorCode } : {}),
        }),
      );
    let envelope: DsseEnvelope;
    try {
      envelope = await signBundle(dir, service.keys, keyName, { actor });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      await audit('failed', `bundle:${dir}`, [`key:${keyName}`], typeof code === 'string' ? code : 'error');
      throw err;
    }
    const keyid = envelope.signatures[0]?.keyid ?? keyName;
    const { digest } = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
      digest: string;
    };
    await audit('ok', `bundle:${digest}`, [`key:${keyid}`]);
    out(`signed ${digest} with ${keyid}`);
    return 0;
  });
}

/** `ztgate policy verify`: exit 0 when the signature is valid, 1 with the reason code otherwise. */
function verify(dir: string, keyName: string, home: string | undefined, digest: string): Promise<number> {
  return withKeyContext(home, 'policy verify', async ({ service }) => {
    const result = await verifyBundleSignature({ dir, digest }, service.keys, { keyNames: [keyName] });
    if (!result.valid) {
      process.stderr.write(
        `ztgate policy verify: ${result.reason ?? 'signature_invalid'}: ${result.detail ?? ''}\n`,
      );
      return 1;
    }
    out(`valid ${digest} signed by ${result.keyId ?? '?'} at ${result.signedAt ?? '?'}`);
    return 0;
  });
}

/** `ztgate policy …`. */
export async function policyCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    bundle: { type: 'string' },
    key: { type: 'string' },
    home: { type: 'string' },
    since: { type: 'string' },
    examples: { type: 'string' },
    json: { type: 'boolean' },
  });
  const sub = positionals[0];
  if (
    positionals.length !== 1 ||
    (sub !== 'test' &&
      sub !== 'lint' &&
      sub !== 'digest' &&
      sub !== 'sign' &&
      sub !== 'verify' &&
      sub !== 'simulate')
  )
    throw new UsageError('expected: policy test|lint|digest|sign|verify|simulate [--bundle DIR]');
  if ((sub === 'sign' || sub === 'simulate') && values.bundle === undefined)
    throw new UsageError(`policy ${sub} needs --bundle DIR`);
  if (values.key !== undefined && sub !== 'sign' && sub !== 'verify')
    throw new UsageError('--key is for policy sign and verify');
  if (values.home !== undefined && sub !== 'sign' && sub !== 'verify' && sub !== 'simulate')
    throw new UsageError('--home is for policy sign, verify and simulate');
  if ((values.since !== undefined || values.examples !== undefined || values.json) && sub !== 'simulate')
    throw new UsageError('--since, --examples and --json are for policy simulate');
  const dir = values.bundle ?? DEFAULT_BUNDLE;
  const bundle = await load(dir);
  if (!bundle) return 2;
  switch (sub) {
    case 'test':
      return test(bundle);
    case 'digest':
      out(bundle.digest);
      return 0;
    case 'sign':
      return sign(dir, values.key ?? DEFAULT_SIGNING_KEY, values.home);
    case 'verify':
      return verify(dir, values.key ?? DEFAULT_SIGNING_KEY, values.home, bundle.digest);
    case 'simulate':
      return simulateCommand(bundle, {
        home: values.home,
        since: values.since,
        examples: values.examples,
        json: values.json === true,
      });
    case 'lint': {
      const findings = await lintBundle(dir);
      for (const f of findings) out(f);
      out(`${bundle.policyIds.length} policies, ${findings.length} finding(s)`);
      return findings.length === 0 ? 0 : 1;
    }
  }
}
