import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { defaultDataClasses, type ZtgateConfig } from '../config/index.js';
import {
  RouteError,
  type AuditEntry,
  type Decision,
  type DecideStage,
  type ModelAttributes,
  type RequestContext,
} from '../core/index.js';
import type { KeyManager } from '../keys/index.js';
import {
  createCedarDecider,
  decide,
  decisionInputOf,
  timeOf,
  type CedarDeciderOptions,
  type ControlContext,
  type ModelCatalogue,
  type PolicyAction,
  type PolicyBundle,
  type PolicyPrincipal,
} from '../policy/index.js';
import type { CatalogueModel } from '../runtime/index.js';
import type { StateBus } from '../store/index.js';
import { watchBundleDir } from './bundle-watch.js';
import { controlAuditEntry } from './control-audit.js';
import {
  acceptBundle,
  LiveBundle,
  type AcceptedBundle,
  type ReloadOutcome,
  type ReloadTrigger,
} from './live-bundle.js';
import type { GatewayMetrics } from './metrics.js';
import { ShadowRecorder, type ShadowDifference } from './policy-shadow.js';

/** The bundle that decides when `policy.bundle` is not set; resolves from src/ and dist/ alike. */
export const BUILTIN_BUNDLE_DIR = fileURLToPath(new URL('../../examples/policies/default', import.meta.url));

const RELOAD_CHANNEL = 'policy.reload';
const WATCH_DEBOUNCE_MS = 300;
const SHADOW_DIFFERENCES_KEPT = 1000;

export type ControlAction = Exclude<PolicyAction, 'chat' | 'embed' | 'transcribe' | 'invoke_tool'>;

export interface BundleStatus {
  readonly digest: string;
  readonly source: string;
  readonly builtin: boolean;
  readonly loadedAt: string;
  readonly signedBy: string | null;
  readonly policies: number;
  readonly tests: { readonly passed: number; readonly failed: number };
  readonly lastReload: LiveBundle['lastReload'];
}

export interface PolicyStatus {
  readonly live: BundleStatus;
  readonly shadow: BundleStatus | null;
}

export interface ReloadResult {
  readonly live: ReloadOutcome;
  readonly shadow?: ReloadOutcome;
}

export interface PolicyService {
  readonly decide: DecideStage;
  /** Decides a tool call the model proposed in an answer to this request (`invoke_tool`). */
  authorizeTool(ctx: Readonly<RequestContext>, toolName: string): Decision;
  /** Decides a control-plane action on the `Gateway` resource with the live bundle. */
  authorizeControl(principal: PolicyPrincipal, action: ControlAction, control?: ControlContext): Decision;
  status(): PolicyStatus;
  /** The live bundle now. */
  liveBundle(): PolicyBundle;
  /** Reloads live and shadow bundles; `admin` reloads are also announced to every replica. */
  reload(trigger: ReloadTrigger, actor: string): Promise<ReloadResult>;
  shadowDifferences(limit: number): readonly ShadowDifference[];
  close(): Promise<void>;
}

export interface PolicyServiceOptions {
  readonly config: ZtgateConfig;
  readonly home: string;
  readonly models: readonly CatalogueModel[];
  readonly keys: KeyManager;
  readonly bus: StateBus;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  /** Appends a control-plane audit entry (reloads, refused candidates). */
  readonly audit: (entry: AuditEntry) => Promise<unknown>;
  /**
   * What attestation says of an upstream's runtime now (RuntimeTrust); it replaces the
   * configured `attested` and `attestationKind` of the models that upstream serves.
   */
  readonly attestation?: (
    upstreamId: string,
  ) => { readonly attested: boolean; readonly attestationKind: string } | undefined;
  /** Told of each new live bundle after it replaced the running one (runtime reference values). */
  readonly onLiveBundle?: (bundle: PolicyBundle) => Promise<void>;
}

/**
 * The catalogue with each model's `attested` and `attestationKind` read at decision time from
 * what its upstream's runtime has proved, for upstreams under attestation. Only `get` and `has`
 * are used by the decision point.
 */
class AttestedCatalogue extends Map<string, ModelAttributes> {
  constructor(
    base: ModelCatalogue,
    /** Each model's upstream and fallbacks, in the order the route stage tries them. */
    private readonly upstreamsOf: ReadonlyMap<string, readonly string[]>,
    private readonly attestation: NonNullable<PolicyServiceOptions['attestation']>,
  ) {
    super(base);
  }

  /** The attributes of the runtime the route stage would pick now: the first eligible one. */
  override get(id: string): ModelAttributes | undefined {
    const attributes = super.get(id);
    if (!attributes) return attributes;
    for (const upstream of this.upstreamsOf.get(id) ?? []) {
      const proved = this.attestation(upstream);
      if (!proved) return attributes;
      if (proved.attestationKind !== 'none') return { ...attributes, ...proved };
    }
    return { ...attributes, attested: false, attestationKind: 'none' };
  }
}

/** Model attributes as policy sees them; a catalogue model without any (the demo) is on premises. */
function catalogueOf(models: readonly CatalogueModel[]): ModelCatalogue {
  return new Map(
    models.map((m): [string, ModelAttributes] => [
      m.id,
      m.attributes ?? {
        provider: 'ztgate-demo',
        region: 'local',
        runtimeKind: 'on_prem',
        attestationKind: 'none',
        attested: false,
        dataClasses: defaultDataClasses('on_prem'),
        workspaces: [],
      },
    ]),
  );
}

function statusOf(live: LiveBundle): BundleStatus {
  const c: AcceptedBundle = live.current;
  return {
    digest: c.bundle.digest,
    source: c.builtin ? 'builtin' : c.dir,
    builtin: c.builtin,
    loadedAt: c.loadedAt,
    signedBy: c.signedBy,
    policies: c.bundle.policyIds.length,
    tests: c.tests,
    lastReload: live.lastReload,
  };
}

/**
 * The policy decision point as the gateway runs it: the live bundle (`policy.bundle`, else the
 * built-in one) decides every data-plane request and every admin action; a shadow bundle
 * (`policy.shadow`) is evaluated beside it after each decision and never enforced. Both reload
 * on file change, on SIGHUP and through the admin API; a candidate that fails to load, verify
 * or pass its own tests never replaces a running bundle (logged, audited, counted). A bundle
 * that fails at start stops the start.
 */
export async function openPolicyService(options: PolicyServiceOptions): Promise<PolicyService> {
  const { config, logger, metrics } = options;
  const checks = {
    requireSigned: config.policy.requireSigned,
    signingKeys: config.policy.signingKeys,
    keys: options.keys,
  };
  const liveDir = config.policy.bundle ? resolve(options.home, config.policy.bundle) : BUILTIN_BUNDLE_DIR;
  const live = new LiveBundle(await acceptBundle(liveDir, !config.policy.bundle, checks), checks);
  const shadow = config.policy.shadow
    ? new LiveBundle(await acceptBundle(resolve(options.home, config.policy.shadow), false, checks), checks)
    : undefined;
  const roles: [string, LiveBundle][] = [
    ['live', live],
    ...(shadow ? [['shadow', shadow] as [string, LiveBundle]] : []),
  ];
  const showBundle = (role: string, b: LiveBundle): void => {
    metrics.policyBundle.reset();
    for (const [r, lb] of roles) metrics.policyBundle.set({ bundle: r, digest: lb.bundle.digest }, 1);
    logger.info(
      {
        bundle: role,
        source: b.current.builtin ? 'builtin' : b.current.dir,
        digest: b.bundle.digest,
        signedBy: b.current.signedBy,
      },
      `policy bundle loaded (${role})`,
    );
  };
  for (const [role, b] of roles) showBundle(role, b);

  const configured = catalogueOf(options.models);
  const catalogue: ModelCatalogue = options.attestation
    ? new AttestedCatalogue(
        configured,
        new Map(options.models.map((m) => [m.id, [m.upstream, ...(m.fallbacks ?? [])]])),
        options.attestation,
      )
    : configured;
  const deciderOptions: CedarDeciderOptions = {
    bundle: () => live.bundle,
    catalogue,
    dataClass: config.policy.dataClass,
    networkZone: config.policy.networkZone,
    guards: config.policy.evaluator === 'fast',
    verify: {
      sample: config.policy.verifySample,
      observe: (agreed, input, guarded, engine) => {
        metrics.evaluatorChecks.inc({ outcome: agreed ? 'agree' : 'disagree' });
        if (!agreed)
          logger.error(
            { input, fast: guarded, cedar: engine },
            'policy fast path disagrees with cedar-wasm: set policy.evaluator: cedar and report this',
          );
      },
    },
  };
  const cedarDecide = createCedarDecider(deciderOptions);
  // A model the catalogue does not know is the client's mistake (404), told only to callers
  // that authenticated; policy would deny it anyway (policy.entity_missing).
  const liveDecide: DecideStage = async (ctx) => {
    const model = (ctx.request.body as { model?: unknown }).model;
    if (typeof model !== 'string' || !catalogue.has(model))
      throw new RouteError('model_not_found', { param: 'model' });
    return cedarDecide(ctx);
  };
  const recorder = new ShadowRecorder(
    SHADOW_DIFFERENCES_KEPT,
    (change) => metrics.shadowDecisions.inc({ outcome: change }),
    (d) => logger.info({ shadow: d }, `shadow bundle would decide differently: ${d.change}`),
  );
  const decideStage: DecideStage = shadow
    ? async (ctx) => {
        const decision = await liveDecide(ctx);
        const input = decisionInputOf(ctx, deciderOptions);
        const candidate = shadow.bundle;
        // After the live decision and off its path: the shadow never delays or changes an answer.
        setImmediate(() => {
          // A shadow replaced meanwhile is compared from its next request on.
          if (shadow.bundle !== candidate) return;
          try {
            recorder.compare(ctx.id, input, decision, decide(input, candidate, catalogue));
          } catch (err) {
            logger.warn({ err: (err as Error).message }, 'shadow decision failed');
          }
        });
        return decision;
      }
    : liveDecide;

  const instance = randomUUID();
  const reloadOne = async (
    role: string,
    b: LiveBundle,
    trigger: ReloadTrigger,
    actor: string,
  ): Promise<ReloadOutcome> => {
    const outcome = await b.reload(trigger);
    metrics.policyReloads.inc({ bundle: role, trigger, outcome: outcome.outcome });
    if (outcome.outcome === 'unchanged') {
      logger.debug({ bundle: role, trigger }, 'policy bundle unchanged');
      if (trigger !== 'admin' && trigger !== 'signal') return outcome;
    } else if (outcome.outcome === 'replaced') {
      showBundle(role, b);
      if (role === 'shadow') recorder.clear();
    } else {
      logger.error(
        { bundle: role, trigger, code: outcome.code, reason: outcome.message, running: outcome.digest },
        `policy bundle candidate refused; the running bundle keeps serving (${role})`,
      );
    }
    const entry = controlAuditEntry({
      action: `policy.reload`,
      target: `policy:${role}:${outcome.digest}`,
      actor,
      authMethod: trigger === 'admin' ? 'admin' : 'system',
      outcome: outcome.outcome === 'rejected' ? 'failed' : 'ok',
      ...(outcome.outcome === 'rejected' ? { errorCode: outcome.code } : {}),
      details: [
        `bundle:${role}`,
        `trigger:${trigger}`,
        `outcome:${outcome.outcome}`,
        ...(outcome.outcome === 'replaced' ? [`previous:${outcome.previousDigest}`] : []),
      ],
    });
    await options
      .audit(entry)
      .catch((err: unknown) =>
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'policy reload not audited'),
      );
    if (role === 'live' && outcome.outcome === 'replaced')
      await options
        .onLiveBundle?.(b.bundle)
        .catch((err: unknown) =>
          logger.error({ err: err instanceof Error ? err.message : String(err) }, 'live bundle not applied'),
        );
    return outcome;
  };
  const reloadAll = async (trigger: ReloadTrigger, actor: string): Promise<ReloadResult> => {
    const liveOutcome = await reloadOne('live', live, trigger, actor);
    const shadowOutcome = shadow ? await reloadOne('shadow', shadow, trigger, actor) : undefined;
    return { live: liveOutcome, ...(shadowOutcome ? { shadow: shadowOutcome } : {}) };
  };

  const stops: (() => unknown)[] = [];
  if (config.policy.watch) {
    for (const [role, b] of roles) {
      if (b.current.builtin) continue;
      stops.push(
        watchBundleDir(
          b.current.dir,
          WATCH_DEBOUNCE_MS,
          () => void reloadOne(role, b, 'watch', 'system:watch'),
          (err) => logger.warn({ bundle: role, err: err.message }, 'policy bundle directory not watched'),
        ),
      );
    }
  }
  // An admin reload on one replica reloads every replica (each from its own bundle directory).
  stops.push(
    await options.bus.subscribe(RELOAD_CHANNEL, (message) => {
      if (message === instance) return;
      void reloadAll('replica', 'system:replica');
    }),
  );

  return {
    decide: decideStage,
    authorizeTool: (ctx, toolName) => {
      const input = {
        ...decisionInputOf(ctx, deciderOptions),
        action: 'invoke_tool' as const,
        resource: { type: 'Tool' as const, id: toolName },
      };
      const decision = decide(input, live.bundle, catalogue, { guards: deciderOptions.guards ?? true });
      if (decision.effect !== 'allow')
        logger.info(
          {
            requestId: ctx.id,
            tool: toolName,
            determiningPolicies: decision.determiningPolicies,
            errors: decision.errors,
          },
          'tool call refused by policy',
        );
      return decision;
    },
    authorizeControl: (principal, action, control) =>
      decide(
        {
          principal,
          action,
          ...(control ? { control } : {}),
          resource: { type: 'Gateway', id: 'gateway' },
          findings: [],
          dataClass: config.policy.dataClass,
          risk: 0,
          networkZone: config.policy.networkZone,
          residency: '',
          time: timeOf(Date.now()),
        },
        live.bundle,
      ),
    status: () => ({ live: statusOf(live), shadow: shadow ? statusOf(shadow) : null }),
    liveBundle: () => live.bundle,
    reload: async (trigger, actor) => {
      const result = await reloadAll(trigger, actor);
      if (trigger === 'admin')
        await options.bus
          .publish(RELOAD_CHANNEL, instance)
          .catch((err: unknown) =>
            logger.warn(
              { err: err instanceof Error ? err.message : String(err) },
              'policy reload not announced',
            ),
          );
      return result;
    },
    shadowDifferences: (limit) => recorder.list(limit),
    close: async () => {
      for (const stop of stops) await stop();
    },
  };
}
