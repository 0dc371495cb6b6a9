import { z } from 'zod';
import { POLICY_ACTIONS } from './types.js';

/** One bundle test case (docs/POLICY.md, "Test cases"). */
export const TestCaseSchema = z.strictObject({
  name: z.string().min(1),
  principal: z
    .strictObject({
      kind: z.enum(['user', 'service']).default('user'),
      id: z.string(),
      roles: z.array(z.string()).default([]),
      groups: z.array(z.string()).default([]),
      attributes: z
        .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]))
        .optional(),
    })
    .nullable(),
  device: z
    .strictObject({
      id: z.string(),
      trust: z.enum(['verified', 'untrusted']),
      managed: z.boolean(),
      compliant: z.boolean(),
    })
    .optional(),
  action: z.enum(POLICY_ACTIONS),
  resource: z.strictObject({ type: z.enum(['Model', 'Tool', 'Gateway']), id: z.string() }),
  workspace: z.string().optional(),
  /** Control actions that need more than one person (release_quarantine, approve_tool_call). */
  control: z
    .strictObject({
      actor: z.string(),
      priorApprovers: z.array(z.string()).default([]),
      requestedBy: z.string().optional(),
    })
    .optional(),
  context: z
    .strictObject({
      findings: z
        .array(
          z.strictObject({ type: z.string(), detector: z.string().optional(), score: z.number().optional() }),
        )
        .default([]),
      dataClass: z.string().default('internal'),
      risk: z.number().default(0),
      networkZone: z.string().default('corporate'),
      residency: z.string().default('eu'),
      time: z.strictObject({ hour: z.number(), weekday: z.string() }).default({ hour: 12, weekday: 'wed' }),
    })
    .default({
      findings: [],
      dataClass: 'internal',
      risk: 0,
      networkZone: 'corporate',
      residency: 'eu',
      time: { hour: 12, weekday: 'wed' },
    }),
  expect: z.strictObject({
    effect: z.enum(['allow', 'deny']),
    /** Obligations as `kind:value` text (after merging), in any order; omitted → not checked. */
    obligations: z.array(z.string()).optional(),
    determiningPolicies: z.array(z.string()).optional(),
    /** Error codes (the part before any `:`) expected in the decision; omitted → not checked. */
    errors: z.array(z.string()).optional(),
  }),
});
export type BundleTestCase = z.infer<typeof TestCaseSchema>;

const TestFileSchema = z.union([z.array(TestCaseSchema), TestCaseSchema]);

/** Parses one tests/*.json file (an array of cases or a single case); throws a message. */
export function parseTestFile(name: string, text: string): BundleTestCase[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${name}: not valid JSON`);
  }
  const parsed = TestFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${name}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid'}`);
  }
  return Array.isArray(parsed.data) ? parsed.data : [parsed.data];
}
