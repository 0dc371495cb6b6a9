import type { ZtgateConfig } from '../config/index.js';
import type { Stages, UpstreamConnector } from '../core/index.js';
import {
  BUILTIN_CLASS_RULES,
  busConversationStore,
  createInspector,
  createOutputScanner,
  createTransformer,
  type Detectors,
  type openPseudonymKeys,
} from '../guard/index.js';
import type { KeyManager } from '../keys/index.js';
import { createRouter, type CatalogueModel } from '../runtime/index.js';
import type { StateBus } from '../store/index.js';
import type { ApprovalService } from './approval-service.js';
import type { Authenticator } from '../identity/authenticate.js';
import type { PolicyService } from './policy-service.js';
import type { PromptService } from './prompt-service.js';
import type { RuntimeTrustService } from './runtime-trust-service.js';
import { toolVerdictOf } from './tool-verdict.js';
import { upstreamRegions } from './upstream-connectors.js';
import type { WatchService } from './watch-service.js';

/** The pipeline's stages as the gateway runs them, from the components the composition root opened. */
export function buildStages(p: {
  readonly config: ZtgateConfig;
  readonly authenticator: Authenticator;
  readonly detectors: Detectors;
  readonly policy: PolicyService;
  readonly pseudonymKeys: ReturnType<typeof openPseudonymKeys>;
  readonly prompts: PromptService | undefined;
  readonly bus: StateBus;
  readonly keys: KeyManager;
  readonly models: readonly CatalogueModel[];
  readonly connectors: ReadonlyMap<string, UpstreamConnector>;
  readonly runtimeTrust: RuntimeTrustService | undefined;
  readonly watch: WatchService;
  readonly approvals: ApprovalService;
  readonly record: Stages['record'];
  readonly sink: Stages['watch'];
}): Stages {
  const { config, detectors, policy, watch } = p;
  return {
    authenticate: p.authenticator,
    inspect: createInspector({
      detectors,
      baseClass: config.policy.dataClass,
      rules: [...BUILTIN_CLASS_RULES, ...config.guard.classification.rules],
      labels: config.guard.classification.labels,
    }),
    decide: policy.decide,
    transform: createTransformer({
      keys: p.pseudonymKeys,
      ...(p.prompts ? { systemPrompt: p.prompts.systemPromptFor } : {}),
      canary: config.guard.output.canary,
      ...(config.guard.pseudonyms.conversationTtl
        ? { conversations: busConversationStore(p.bus, p.keys, config.guard.pseudonyms.conversationTtl) }
        : {}),
    }),
    route: createRouter(
      p.models,
      p.connectors,
      // A runtime an incident disabled (on any replica) gets nothing, attested or not.
      (id) =>
        watch.runtimeDisabled(id)
          ? { eligible: false, reason: 'disabled_by_incident' }
          : (p.runtimeTrust?.eligible(id) ?? { eligible: true }),
      upstreamRegions(config),
    ),
    scanOutput: createOutputScanner({
      policy: {
        scan: (text) => detectors.scan(text),
        redact: new Set(config.guard.output.redact),
        block: new Set(config.guard.output.block),
      },
      holdBack: config.guard.output.holdBackChars,
      authorizeTool: (ctx, name) =>
        toolVerdictOf(policy.authorizeTool(ctx, name), ctx, watch.underApprovalOf),
      holdTool: (ctx, call) => p.approvals.hold(ctx, call),
    }),
    record: p.record,
    watch: p.sink,
  };
}
