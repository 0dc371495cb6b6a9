import type { CedarValueJson, EntityJson } from './cedar.js';
import { toTypeAndId, type CedarRequest, type TypeAndId } from './entities.js';

// Condition guards for the fast path (docs/POLICY.md, Performance). A policy's conditions are
// compiled at bundle load into a function that evaluates them on the request exactly as the
// engine would be sent it, but only within a small fragment of Cedar on which evaluation is
// total: reads of attributes that are present, `has`, `==`/`!=` on strings, Longs, booleans and
// entity references, `<`/`<=`/`>`/`>=` on Longs, `contains`/`containsAll`/`containsAny` on sets
// of those, `in` and `is` on entities the request carries, `&&`, `||`, `!`, `if-then-else`, and
// literals. Anything outside it (a missing attribute, arithmetic that may overflow, `like`,
// extension values, a value of an unexpected type, …) is UNKNOWN, and the policy is left to
// the engine.
//
// INVARIANT: a guard answers `true` or `false` only when the engine, evaluating the same
// conditions on the same request, would produce that value without an evaluation error.
// test/unit/policy/guard.test.ts checks this against the engine on generated conditions.

/** `true`/`false`: the conditions' value, with certainty; `undefined`: only the engine knows. */
export type Tri = boolean | undefined;

/** An unambiguous key for an entity uid (a type name cannot hold `\0`). */
export const refKey = (uid: TypeAndId): string => `${uid.type}\0${uid.id}`;

/** What a guard reads: the request as sent to the engine, with its entities by `refKey`. */
export interface GuardEnv {
  readonly request: CedarRequest;
  readonly entities: ReadonlyMap<string, EntityJson>;
  /** `principal`, `resource` and `context` as fragment values (made once per request). */
  readonly vars: { readonly principal: Ref; readonly resource: Ref; readonly context: Rec };
}

export function guardEnvOf(request: CedarRequest): GuardEnv {
  const entities = new Map<string, EntityJson>();
  for (const e of request.entities) entities.set(refKey(toTypeAndId(e.uid)), e);
  const vars = {
    principal: { ref: refKey(request.principal) },
    resource: { ref: refKey(request.resource) },
    context: { rec: request.context },
  };
  return { request, entities, vars };
}

/** A value in the fragment; `UNKNOWN` is anything the engine might reject or we do not model. */
type Value = string | number | boolean | Ref | readonly Value[] | Rec;
interface Ref {
  readonly ref: string;
}
interface Rec {
  readonly rec: Readonly<Record<string, CedarValueJson>>;
}
const UNKNOWN = Symbol('unknown');
type Result = Value | typeof UNKNOWN;
type Expr = (env: GuardEnv) => Result;

const isRef = (v: Result): v is Ref => typeof v === 'object' && v !== null && 'ref' in v;
const isRec = (v: Result): v is Rec => typeof v === 'object' && v !== null && 'rec' in v;
const isPrim = (v: Result): v is string | number | boolean =>
  typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isSafeInteger(v));

/** The values of `xs` as a set, or UNKNOWN when any of them is. */
function setOf<T>(xs: readonly T[], value: (x: T) => Result): Result {
  const out: Value[] = [];
  for (const x of xs) {
    const y = value(x);
    if (y === UNKNOWN) return UNKNOWN;
    out.push(y);
  }
  return out;
}

/** A JSON value of the request (entity attribute or context) as a fragment value. */
function fromJson(v: CedarValueJson | undefined): Result {
  if (v === undefined || v === null) return UNKNOWN;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : UNKNOWN;
  if (Array.isArray(v)) {
    // A set of primitives (the common case) is its own value: no copy.
    if ((v as CedarValueJson[]).every((x) => isPrim(x as Result))) return v as readonly Value[];
    return setOf(v as CedarValueJson[], fromJson);
  }
  if (typeof v !== 'object') return UNKNOWN;
  const o = v as Record<string, unknown>;
  if ('__extn' in o) return UNKNOWN;
  if ('__entity' in o) {
    const uid = o.__entity as TypeAndId;
    return typeof uid?.type === 'string' && typeof uid.id === 'string' ? { ref: refKey(uid) } : UNKNOWN;
  }
  return { rec: v as Record<string, CedarValueJson> };
}

/** Equality where it cannot fail: primitives (of any mix of types) and entity references. */
function equal(a: Value, b: Value): Tri {
  if (isPrim(a) && isPrim(b)) return a === b;
  if (isRef(a) && isRef(b)) return a.ref === b.ref;
  if ((isPrim(a) && isRef(b)) || (isRef(a) && isPrim(b))) return false;
  return undefined;
}

function member(set: readonly Value[], x: Value): Tri {
  let sure = true;
  for (const y of set) {
    const e = equal(x, y);
    if (e === true) return true;
    if (e === undefined) sure = false;
  }
  return sure ? false : undefined;
}

/** The attributes of `v` if it is a record or an entity the request carries. */
function attrsOf(v: Result, env: GuardEnv): Readonly<Record<string, CedarValueJson>> | undefined {
  if (isRec(v)) return v.rec;
  if (isRef(v)) return env.entities.get(v.ref)?.attrs;
  return undefined;
}

const bool = (v: Tri): Result => (v === undefined ? UNKNOWN : v);

/**
 * `a in b`: `a` is `b` or has it among its ancestors, which the engine computes as the
 * transitive closure of the `parents` of the entities the request carries. Known only when `a`
 * is an entity the request carries and `b` an entity or a set of entities.
 */
function within(a: Result, b: Result, env: GuardEnv): Tri {
  if (!isRef(a) || !env.entities.has(a.ref)) return undefined;
  const targets = isRef(b) ? [b] : Array.isArray(b) ? (b as readonly Value[]) : undefined;
  if (!targets || !targets.every(isRef)) return undefined;
  const wanted = new Set((targets as readonly Ref[]).map((t) => t.ref));
  if (wanted.has(a.ref)) return true;
  const seen = new Set<string>([a.ref]);
  const queue = [a.ref];
  while (queue.length) {
    const e = env.entities.get(queue.pop() as string);
    if (!e) continue;
    for (const p of e.parents) {
      const k = refKey(toTypeAndId(p));
      if (wanted.has(k)) return true;
      if (!seen.has(k)) {
        seen.add(k);
        queue.push(k);
      }
    }
  }
  return false;
}

function binary(op: string, l: Expr, r: Expr): Expr | undefined {
  switch (op) {
    case '&&':
    case '||': {
      // Left to right, short-circuiting: `false && _` is false, `true || _` is true.
      const decides = op === '||';
      return (env) => {
        const a = l(env);
        if (a === decides) return decides;
        if (a !== !decides) return UNKNOWN;
        const b = r(env);
        return typeof b === 'boolean' ? b : UNKNOWN;
      };
    }
    case '==':
    case '!=':
      return (env) => {
        const a = l(env);
        const b = a === UNKNOWN ? UNKNOWN : r(env);
        if (a === UNKNOWN || b === UNKNOWN) return UNKNOWN;
        const e = equal(a, b);
        return e === undefined ? UNKNOWN : op === '==' ? e : !e;
      };
    case '<':
    case '<=':
    case '>':
    case '>=':
      return (env) => {
        const a = l(env);
        const b = a === UNKNOWN ? UNKNOWN : r(env);
        if (typeof a !== 'number' || typeof b !== 'number') return UNKNOWN;
        return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
      };
    case 'contains':
      return (env) => {
        const a = l(env);
        const b = a === UNKNOWN ? UNKNOWN : r(env);
        if (!Array.isArray(a) || b === UNKNOWN) return UNKNOWN;
        return bool(member(a as readonly Value[], b));
      };
    case 'containsAll':
    case 'containsAny':
      return (env) => {
        const a = l(env);
        const b = a === UNKNOWN ? UNKNOWN : r(env);
        if (!Array.isArray(a) || !Array.isArray(b)) return UNKNOWN;
        let sure = true;
        for (const x of b as readonly Value[]) {
          const m = member(a as readonly Value[], x);
          if (m === undefined) sure = false;
          else if (op === 'containsAny' && m) return true;
          else if (op === 'containsAll' && !m) return false;
        }
        return sure ? op === 'containsAll' : UNKNOWN;
      };
    default:
      return undefined;
  }
}

/** Compiles an expression (Cedar's JSON form); `undefined` when it is outside the fragment. */
function compile(node: unknown): Expr | undefined {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
  const keys = Object.keys(node);
  if (keys.length !== 1) return undefined;
  const op = keys[0] as string;
  const arg = (node as Record<string, unknown>)[op] as Record<string, unknown>;
  switch (op) {
    case 'Value': {
      const v = fromJson(arg as unknown as CedarValueJson);
      return v === UNKNOWN || isRec(v) ? undefined : () => v;
    }
    case 'Var':
      if (arg === ('context' as unknown)) return (env) => env.vars.context;
      if (arg === ('principal' as unknown)) return (env) => env.vars.principal;
      if (arg === ('resource' as unknown)) return (env) => env.vars.resource;
      return undefined;
    case 'Set': {
      if (!Array.isArray(arg)) return undefined;
      const items = (arg as unknown[]).map(compile);
      if (items.some((x) => x === undefined)) return undefined;
      return (env) => setOf(items as Expr[], (x) => x(env));
    }
    case '!': {
      const a = compile(arg?.arg);
      return (
        a &&
        ((env) => {
          const v = a(env);
          return typeof v === 'boolean' ? !v : UNKNOWN;
        })
      );
    }
    case '.': {
      const left = compile(arg?.left);
      const attr = arg?.attr;
      if (!left || typeof attr !== 'string') return undefined;
      return (env) => {
        const attrs = attrsOf(left(env), env);
        return attrs && Object.hasOwn(attrs, attr) ? fromJson(attrs[attr]) : UNKNOWN;
      };
    }
    case 'has': {
      const left = compile(arg?.left);
      const path: unknown[] = Array.isArray(arg?.attr) ? (arg.attr as unknown[]) : [arg?.attr];
      if (!left || !path.length || !path.every((a): a is string => typeof a === 'string')) return undefined;
      return (env) => {
        let v = left(env);
        for (const a of path) {
          const attrs = attrsOf(v, env);
          if (!attrs) return UNKNOWN;
          if (!Object.hasOwn(attrs, a)) return false;
          v = fromJson(attrs[a]);
        }
        return true;
      };
    }
    case 'is': {
      const left = compile(arg?.left);
      const type = arg?.entity_type;
      const inside = arg?.in === undefined ? undefined : compile(arg.in);
      if (!left || typeof type !== 'string' || (arg?.in !== undefined && !inside)) return undefined;
      return (env) => {
        const v = left(env);
        if (!isRef(v)) return UNKNOWN;
        if (v.ref.slice(0, v.ref.indexOf('\0')) !== type) return false;
        return inside ? bool(within(v, inside(env), env)) : true;
      };
    }
    case 'in': {
      const l = compile(arg?.left);
      const r = compile(arg?.right);
      return l && r && ((env) => bool(within(l(env), r(env), env)));
    }
    case 'if-then-else': {
      const c = compile(arg?.if);
      const th = compile(arg?.then);
      const el = compile(arg?.else);
      if (!c || !th || !el) return undefined;
      return (env) => {
        const v = c(env);
        return v === true ? th(env) : v === false ? el(env) : UNKNOWN;
      };
    }
    default: {
      const l = compile(arg?.left);
      const r = compile(arg?.right);
      return l && r ? binary(op, l, r) : undefined;
    }
  }
}

/** A policy's conditions as a guard: `true`/`false` with certainty, or `undefined`. */
export type Guard = (env: GuardEnv) => Tri;

const ENGINE_ONLY: Guard = () => undefined;

/**
 * Compiles a policy's `conditions` (Cedar's JSON form: `when` and `unless` clauses, which the
 * engine joins with `&&` in order, after the scope). A clause outside the fragment makes the
 * guard answer `undefined` once evaluation reaches it (an earlier `false` still decides).
 */
export function compileGuard(conditions: unknown): Guard {
  if (!Array.isArray(conditions)) return ENGINE_ONLY;
  const clauses: { readonly negate: boolean; readonly body: Expr | undefined }[] = [];
  for (const c of conditions as { kind?: unknown; body?: unknown }[]) {
    if (c.kind !== 'when' && c.kind !== 'unless') return ENGINE_ONLY;
    clauses.push({ negate: c.kind === 'unless', body: compile(c.body) });
  }
  return (env) => {
    for (const { negate, body } of clauses) {
      const v = body?.(env);
      if (typeof v !== 'boolean') return undefined;
      if (v === negate) return false;
    }
    return true;
  };
}

/** A primitive as a bucket key (type-tagged: `1` and `"1"` differ, as in Cedar). */
export const primKey = (v: string | number | boolean): string => `${typeof v}:${String(v)}`;

/**
 * The first test a policy's conditions evaluate, when it is `PATH.contains(LITERAL)` or
 * `PATH == LITERAL` on a primitive literal: such a policy can hold only if the literal is among
 * `values(env)` (the set's elements, or the value), whenever `values` answers. The candidate
 * index (policy-index.ts) files the policy under the literal, so that a request meets only the
 * policies filed under its own values.
 */
export interface KeyTest {
  /** Identifies PATH (its JSON form), shared by every policy that tests the same path. */
  readonly path: string;
  readonly literal: string;
  /** The primitives the test can hold for, as bucket keys; undefined: unknown, keep the policy. */
  readonly values: (env: GuardEnv) => readonly string[] | undefined;
}

/** The leftmost conjunct of the first clause, if that clause is `when` (it is evaluated first). */
export function keyTestOf(conditions: unknown): KeyTest | undefined {
  if (!Array.isArray(conditions) || !conditions.length) return undefined;
  const first = conditions[0] as { kind?: unknown; body?: unknown };
  if (first.kind !== 'when') return undefined;
  let node = first.body as Record<string, { left?: unknown; right?: unknown } | undefined>;
  while (node && typeof node === 'object' && node['&&']) node = node['&&'].left as typeof node;
  const op =
    node && typeof node === 'object'
      ? node.contains
        ? 'contains'
        : node['==']
          ? '=='
          : undefined
      : undefined;
  if (!op) return undefined;
  const { left, right } = node[op] as { left?: unknown; right?: unknown };
  const literal = (right as { Value?: unknown } | null)?.Value;
  const read = compile(left);
  if (!read || !isPrim(literal as Result)) return undefined;
  const values =
    op === 'contains'
      ? (env: GuardEnv): readonly string[] | undefined => {
          const v = read(env);
          if (!Array.isArray(v)) return undefined;
          const out: string[] = [];
          for (const x of v as readonly Value[]) {
            if (isRef(x)) continue; // never equal to a primitive
            if (!isPrim(x)) return undefined;
            out.push(primKey(x));
          }
          return out;
        }
      : (env: GuardEnv): readonly string[] | undefined => {
          const v = read(env);
          if (isRef(v)) return []; // never equal to a primitive
          return isPrim(v) ? [primKey(v)] : undefined;
        };
  return { path: JSON.stringify(left), literal: primKey(literal as string | number | boolean), values };
}
