import type { Decision } from '../core/index.js';
import type { PolicyBundle } from './bundle.js';
import { decide } from './engine.js';
import { formatObligation } from './obligations.js';
import type { BundleTestCase } from './testcase-format.js';
import type { DecisionInput } from './types.js';

export interface TestOutcome {
  readonly effect: 'allow' | 'deny';
  readonly obligations: readonly string[];
  readonly determiningPolicies: readonly string[];
  readonly errors: readonly string[];
}
export interface TestFailure {
  readonly name: string;
  readonly expected: BundleTestCase['expect'];
  readonly got: TestOutcome;
}
export interface TestReport {
  readonly passed: number;
  readonly failed: readonly TestFailure[];
}

/** The DecisionInput a test case describes. */
export function testCaseInput(c: BundleTestCase): DecisionInput {
  return {
    ...(c.principal ? { principal: { ...c.principal, attributes: c.principal.attributes ?? {} } } : {}),
    ...(c.device ? { device: c.device } : {}),
    ...(c.workspace !== undefined ? { workspace: c.workspace } : {}),
    ...(c.control
      ? {
          control: {
            actor: c.control.actor,
            priorApprovers: c.control.priorApprovers,
            ...(c.control.requestedBy !== undefined ? { requestedBy: c.control.requestedBy } : {}),
          },
        }
      : {}),
    action: c.action,
    resource: c.resource,
    findings: c.context.findings,
    dataClass: c.context.dataClass,
    risk: c.context.risk,
    networkZone: c.context.networkZone,
    residency: c.context.residency,
    time: c.context.time,
  };
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

function outcome(d: Decision): TestOutcome {
  return {
    effect: d.effect,
    obligations: d.obligations.map(formatObligation),
    determiningPolicies: [...d.determiningPolicies],
    errors: [...d.errors],
  };
}

/** Runs `cases` (the bundle's own tests by default) against the bundle. */
export function runBundleTests(
  bundle: PolicyBundle,
  cases: readonly BundleTestCase[] = bundle.tests,
): TestReport {
  let passed = 0;
  const failed: TestFailure[] = [];
  for (const c of cases) {
    const got = outcome(decide(testCaseInput(c), bundle));
    const e = c.expect;
    const ok =
      got.effect === e.effect &&
      (e.obligations === undefined || sameSet(got.obligations, e.obligations)) &&
      (e.determiningPolicies === undefined || sameSet(got.determiningPolicies, e.determiningPolicies)) &&
      (e.errors === undefined ||
        sameSet(
          got.errors.map((x) => x.split(':')[0] ?? x),
          e.errors,
        ));
    if (ok) passed++;
    else failed.push({ name: c.name, expected: e, got });
  }
  return { passed, failed };
}
