import type { ScopedPolicy } from './bundle.js';
import { keyTestOf, type GuardEnv, type KeyTest } from './guard.js';

// Candidate index over one action's policies (docs/POLICY.md, Performance). Every policy is
// filed once: under its principal scope's entity (`==`, `in`, `is … in`), else under the
// literal of its first condition test (guard.ts, KeyTest), else under its resource scope's
// entity, else as open. A request looks up only the buckets its principal, its principal's
// ancestors, its values and its resource name; a policy in any other bucket has a scope or a
// first test that is false for this request without error, so it can neither apply nor fail.
// The engine still tests each candidate in full (scope, then guard).

/** The request-side keys: principal and resource with their ancestors (`Type::id`). */
export interface Lookup {
  readonly principal: readonly string[];
  readonly resource: readonly string[];
}

interface KeyBucket {
  readonly test: KeyTest;
  readonly byLiteral: Map<string, number[]>;
  readonly all: number[];
}

export class CandidateIndex {
  private readonly open: number[] = [];
  private readonly byPrincipal = new Map<string, number[]>();
  private readonly byResource = new Map<string, number[]>();
  private readonly byKey = new Map<string, KeyBucket>();
  private readonly size: number;

  constructor(policies: readonly ScopedPolicy[], conditions: readonly unknown[]) {
    this.size = policies.length;
    const add = (map: Map<string, number[]>, key: string, i: number): void => {
      const list = map.get(key);
      if (list) list.push(i);
      else map.set(key, [i]);
    };
    policies.forEach((x, i) => {
      const p = x.principal;
      const pKey = p.op === '==' || p.op === 'in' ? p.key : p.op === 'is' ? p.inKey : undefined;
      if (x.exact && pKey !== undefined) return add(this.byPrincipal, pKey, i);
      const test = keyTestOf(conditions[i]);
      if (test) {
        let bucket = this.byKey.get(test.path);
        if (!bucket) this.byKey.set(test.path, (bucket = { test, byLiteral: new Map(), all: [] }));
        add(bucket.byLiteral, test.literal, i);
        bucket.all.push(i);
        return;
      }
      const r = x.resource;
      const rKey = r.op === '==' || r.op === 'in' ? r.key : r.op === 'is' ? r.inKey : undefined;
      if (x.exact && rKey !== undefined) return add(this.byResource, rKey, i);
      this.open.push(i);
    });
  }

  /** Positions (ascending, no repeats) of the policies that may apply to or fail on the request. */
  candidates(env: GuardEnv, lookup: Lookup): number[] {
    const hit = new Uint8Array(this.size);
    const out: number[] = [];
    const take = (list: readonly number[] | undefined): void => {
      if (list)
        for (const i of list)
          if (!hit[i]) {
            hit[i] = 1;
            out.push(i);
          }
    };
    take(this.open);
    for (const k of lookup.principal) take(this.byPrincipal.get(k));
    for (const k of lookup.resource) take(this.byResource.get(k));
    for (const bucket of this.byKey.values()) {
      const values = bucket.test.values(env);
      if (values === undefined) take(bucket.all);
      else for (const v of values) take(bucket.byLiteral.get(v));
    }
    return out.sort((a, b) => a - b);
  }
}
