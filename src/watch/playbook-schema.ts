/**
 * The playbooks document (YAML): when a subject's signals match, which actions the gateway runs
 * against it. `parsePlaybooks` validates it and returns typed, frozen playbooks.
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { duration } from '../config/schema-primitives.js';
import { ANOMALY_TYPES } from './anomaly.js';
import { SIGNAL_TYPES } from './signals.js';

export const SUBJECT_KINDS = ['principal', 'device', 'workspace', 'session'] as const;
export type SubjectKind = (typeof SUBJECT_KINDS)[number];

export const ACTION_KINDS = [
  'quarantine',
  'revoke',
  'rotate_key',
  'disable_runtime',
  'require_approval',
  'notify',
] as const;
export const REVOCABLE = ['sessions', 'tokens', 'api_keys'] as const;

/** The cooldown of a playbook that gives none (15 min): one episode must not set off a storm of actions. */
export const DEFAULT_COOLDOWN_MS = 15 * 60_000;

const name = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be a name: a-z, 0-9, ".", "_" and "-"');
const signalType = z.enum(SIGNAL_TYPES, {
  error: (issue) => `unknown signal type ${JSON.stringify(issue.input)} (one of: ${SIGNAL_TYPES.join(', ')})`,
});
const anomalyType = z.enum(ANOMALY_TYPES, {
  error: (issue) =>
    `unknown anomaly type ${JSON.stringify(issue.input)} (one of: ${ANOMALY_TYPES.join(', ')})`,
});

const actionsSchema = z
  .strictObject({
    quarantine: z.strictObject({ for: duration.optional() }),
    revoke: z
      .array(z.enum(REVOCABLE))
      .min(1)
      .refine((list) => new Set(list).size === list.length, 'lists an item twice'),
    rotate_key: z.strictObject({ key: name }),
    /** `triggering`: the runtime that served the request that set the playbook off. */
    disable_runtime: z.strictObject({ runtime: name }),
    require_approval: z.strictObject({}),
    notify: z.union(
      [
        z.strictObject({
          webhook: z.url({ protocol: /^https$/, error: 'must be an https:// URL' }).max(2048),
          /** Every webhook is signed: the HMAC secret, as env:NAME or file:PATH. */
          secret: z.string().regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$/, 'must be env:NAME or file:PATH'),
        }),
        z.strictObject({ syslog: z.literal(true) }),
      ],
      { error: 'must be { webhook: https://…, secret: env:NAME } or { syslog: true }' },
    ),
  })
  .partial()
  .refine((a) => Object.keys(a).length === 1, 'each action is exactly one of: ' + ACTION_KINDS.join(', '));

const whenSchema = z
  .strictObject({
    /** The triggering signal's type, or one of a list. Absent: any signal. */
    signal: z
      .preprocess(
        (v) => (typeof v === 'string' ? [v] : v),
        z.array(signalType).min(1).max(SIGNAL_TYPES.length),
      )
      .optional(),
    /** Signals (of `signal`'s types) for the same subject within the window, this one included. */
    count: z.strictObject({ atLeast: z.number().int().min(1).max(1000), within: duration }).optional(),
    /** The subject's risk score after this signal. */
    risk: z.strictObject({ above: z.number().min(0).max(100) }).optional(),
    /** An anomaly of this type for the same subject within `count.within` (default 1 h). */
    anomaly: anomalyType.optional(),
  })
  .refine(
    (w) => w.signal !== undefined || w.count !== undefined || w.risk !== undefined || w.anomaly !== undefined,
    'needs at least one of signal, count, risk, anomaly',
  );

const playbookSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9-]{1,64}$/, 'must be 1-64 characters a-z, 0-9 and -'),
    description: z.string().max(500).optional(),
    when: whenSchema,
    subject: z.enum(SUBJECT_KINDS, { error: `must be one of: ${SUBJECT_KINDS.join(', ')}` }),
    cooldown: duration.default(DEFAULT_COOLDOWN_MS),
    then: z.array(actionsSchema).min(1, 'needs at least one action').max(20),
  })
  .superRefine((p, ctx) => {
    // Actions that only make sense for some subjects are refused when the file is loaded, not
    // found to fail during an incident.
    p.then.forEach((action, i) => {
      const issue = (message: string) => ctx.addIssue({ code: 'custom', path: ['then', i], message });
      if (action.require_approval && p.subject !== 'principal')
        issue('require_approval needs subject: principal');
      if (action.revoke && p.subject !== 'principal' && p.subject !== 'session')
        issue('revoke needs subject: principal or session');
    });
  });

const documentSchema = z.strictObject({ playbooks: z.array(playbookSchema).max(500) });

/** Checked on the raw document, so that duplicates are reported along with every other problem. */
function duplicateIds(raw: unknown): string[] {
  const list = (raw as { playbooks?: unknown } | null)?.playbooks;
  if (!Array.isArray(list)) return [];
  const seen = new Set<string>();
  const problems: string[] = [];
  list.forEach((p: unknown, i) => {
    const id = (p as { id?: unknown } | null)?.id;
    if (typeof id !== 'string') return;
    if (seen.has(id)) problems.push(`playbooks[${i}].id: duplicate playbook id "${id}"`);
    seen.add(id);
  });
  return problems;
}

export type PlaybookAction =
  | { readonly kind: 'quarantine'; readonly forMs?: number }
  | { readonly kind: 'revoke'; readonly what: readonly (typeof REVOCABLE)[number][] }
  | { readonly kind: 'rotate_key'; readonly key: string }
  | { readonly kind: 'disable_runtime'; readonly runtime: string }
  | { readonly kind: 'require_approval' }
  | { readonly kind: 'notify'; readonly webhook: string; readonly secret: string }
  | { readonly kind: 'notify'; readonly syslog: true };

export interface Playbook {
  readonly id: string;
  readonly description?: string;
  readonly when: {
    /** Absent: any signal type. */
    readonly signals?: ReadonlySet<string>;
    readonly count?: { readonly atLeast: number; readonly withinMs: number };
    readonly riskAbove?: number;
    readonly anomaly?: (typeof ANOMALY_TYPES)[number];
  };
  readonly subject: SubjectKind;
  readonly cooldownMs: number;
  readonly actions: readonly PlaybookAction[];
}

/** The document is not valid; `problems` lists each as `path: message`. */
export class PlaybookError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid playbooks:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PlaybookError';
    this.problems = problems;
  }
}

/** Parses and validates a playbooks document; throws PlaybookError listing every problem. */
export function parsePlaybooks(text: string): readonly Playbook[] {
  let raw: unknown;
  try {
    raw = parseYaml(text, { uniqueKeys: true, maxAliasCount: 50, prettyErrors: true }) ?? {};
  } catch (err) {
    throw new PlaybookError([
      `not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
    ]);
  }
  const result = documentSchema.safeParse(raw);
  const problems = [...(result.success ? [] : describeIssues(result.error.issues)), ...duplicateIds(raw)];
  if (!result.success || problems.length > 0) throw new PlaybookError(problems);
  return Object.freeze(result.data.playbooks.map(toPlaybook));
}

function toPlaybook(p: z.infer<typeof playbookSchema>): Playbook {
  const signals = p.when.signal;
  return Object.freeze({
    id: p.id,
    ...(p.description !== undefined ? { description: p.description } : {}),
    when: Object.freeze({
      ...(signals ? { signals: new Set<string>(signals) } : {}),
      ...(p.when.count ? { count: { atLeast: p.when.count.atLeast, withinMs: p.when.count.within } } : {}),
      ...(p.when.risk ? { riskAbove: p.when.risk.above } : {}),
      ...(p.when.anomaly ? { anomaly: p.when.anomaly } : {}),
    }),
    subject: p.subject,
    cooldownMs: p.cooldown,
    actions: Object.freeze(p.then.map(toAction)),
  });
}

function toAction(a: z.infer<typeof actionsSchema>): PlaybookAction {
  if (a.quarantine)
    return a.quarantine.for !== undefined
      ? { kind: 'quarantine', forMs: a.quarantine.for }
      : { kind: 'quarantine' };
  if (a.revoke) return { kind: 'revoke', what: a.revoke };
  if (a.rotate_key) return { kind: 'rotate_key', key: a.rotate_key.key };
  if (a.disable_runtime) return { kind: 'disable_runtime', runtime: a.disable_runtime.runtime };
  if (a.require_approval) return { kind: 'require_approval' };
  if (a.notify && 'syslog' in a.notify) return { kind: 'notify', syslog: true };
  if (a.notify) {
    const { webhook, secret } = a.notify;
    return { kind: 'notify', webhook, secret };
  }
  throw new Error('unreachable: the schema admits exactly one action');
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
    .join('.')
    .replace(/\.\[/g, '[');
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  // An unknown action already says what is wrong; "exactly one action" at the same path would repeat it.
  const unknownAt = new Set(
    issues.filter((i) => i.code === 'unrecognized_keys').map((i) => formatPath(i.path)),
  );
  const relevant = issues.filter((i) => i.code !== 'custom' || !unknownAt.has(formatPath(i.path)));
  return relevant.map((issue) => {
    if (issue.code !== 'unrecognized_keys') return `${formatPath(issue.path)}: ${issue.message}`;
    const isAction = issue.path.length === 4 && issue.path[0] === 'playbooks' && issue.path[2] === 'then';
    return issue.keys
      .map((k) =>
        isAction
          ? `${formatPath([...issue.path, k])}: unknown action "${k}" (one of: ${ACTION_KINDS.join(', ')})`
          : `${formatPath([...issue.path, k])}: unknown key`,
      )
      .join('; ');
  });
}
