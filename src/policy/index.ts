export { createDecider } from './decide.js';
export {
  createCedarDecider,
  decisionInputOf,
  RECORDED_INPUT_VERSION,
  recordDecisionInput,
  type CedarDeciderOptions,
} from './cedar-decider.js';
export { compileBundle, defaultSchema, loadBundle, type PolicyBundle } from './bundle.js';
export { decide } from './engine.js';
export { buildRequest, summarizeFindings, type CedarRequest } from './entities.js';
export {
  BUNDLE_ERROR_CODES,
  DECISION_ERROR_CODES,
  PolicyBundleError,
  type BundleErrorCode,
  type DecisionErrorCode,
} from './errors.js';
export { formatObligation, mergeObligations, parseObligation, type ParsedObligation } from './obligations.js';
export {
  CHANGE_CATEGORIES,
  decisionRowOf,
  simulate,
  Simulation,
  type ChangeCategory,
  type DecisionSummary,
  type RecordedDecisionRow,
  type SimulationExample,
  type SimulationOptions,
  type SimulationReport,
} from './simulate.js';
export { parseTestFile, TestCaseSchema, type BundleTestCase } from './testcase-format.js';
export {
  runBundleTests,
  testCaseInput,
  type TestFailure,
  type TestOutcome,
  type TestReport,
} from './testcases.js';
export {
  CONTROL_PLANE_ACTIONS,
  DATA_PLANE_ACTIONS,
  POLICY_ACTIONS,
  timeOf,
  type ControlContext,
  type DecisionInput,
  type FindingLike,
  type ModelAttributes,
  type ModelCatalogue,
  type PolicyAction,
  type PolicyDevice,
  type PolicyPrincipal,
  type ResourceType,
} from './types.js';
export {
  BUNDLE_SIGNATURE_FILE,
  PolicySignatureError,
  requireSignedBundle,
  signBundle,
  verifyBundleSignature,
} from './signing.js';
