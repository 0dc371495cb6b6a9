import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StageName } from '../core/index.js';
import type { KeyManager } from '../keys/index.js';

const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const UPSTREAM_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** Prometheus metrics, all prefixed `ztgate_`, in a registry of their own (one per gateway). */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'ztgate_http_requests_total',
    help: 'Data-plane requests by route and status code.',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'ztgate_http_request_duration_seconds',
    help: 'Data-plane request duration (to the last byte) by route.',
    labelNames: ['route'] as const,
    buckets: UPSTREAM_BUCKETS,
    registers: [this.registry],
  });
  readonly stageOutcomes = new Counter({
    name: 'ztgate_stage_outcomes_total',
    help: 'Pipeline stage outcomes: ok, or the error code the stage stopped the request with.',
    labelNames: ['stage', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly stageDuration = new Histogram({
    name: 'ztgate_stage_duration_seconds',
    help: 'Time spent in each pipeline stage.',
    labelNames: ['stage'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly upstreamDuration = new Histogram({
    name: 'ztgate_upstream_duration_seconds',
    help: 'Upstream latency to the response head (streams) or whole answer, by upstream and outcome.',
    labelNames: ['upstream', 'outcome'] as const,
    buckets: UPSTREAM_BUCKETS,
    registers: [this.registry],
  });
  readonly auditFailures = new Counter({
    name: 'ztgate_audit_failures_total',
    help: 'Audit records that could not be written, by phase.',
    labelNames: ['phase'] as const,
    registers: [this.registry],
  });
  readonly ledgerCheckpointSize = new Gauge({
    name: 'ztgate_ledger_checkpoint_size',
    help: 'Tree size of the latest checkpoint this replica signed.',
    registers: [this.registry],
  });
  readonly ledgerFailures = new Counter({
    name: 'ztgate_ledger_failures_total',
    help: 'Checkpoints that could not be signed or stored, and witness deliveries that failed.',
    labelNames: ['during'] as const,
    registers: [this.registry],
  });
  readonly watchDropped = new Counter({
    name: 'ztgate_watch_events_dropped_total',
    help: 'Watch events dropped because the queue was full.',
    registers: [this.registry],
  });

  readonly keyOperations = new Counter({
    name: 'ztgate_key_provider_operations_total',
    help: 'Key provider operations by provider, operation and outcome (ok, or the key error code).',
    labelNames: ['provider', 'operation', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly keyOperationDuration = new Histogram({
    name: 'ztgate_key_provider_duration_seconds',
    help: 'Key provider operation latency by provider and operation.',
    labelNames: ['provider', 'operation'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly policyReloads = new Counter({
    name: 'ztgate_policy_reloads_total',
    help: 'Policy bundle reloads by bundle (live, shadow), trigger and outcome (replaced, unchanged, rejected).',
    labelNames: ['bundle', 'trigger', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly policyBundle = new Gauge({
    name: 'ztgate_policy_bundle_info',
    help: 'The running policy bundles: 1 for the digest each role (live, shadow) runs.',
    labelNames: ['bundle', 'digest'] as const,
    registers: [this.registry],
  });
  readonly shadowDecisions = new Counter({
    name: 'ztgate_policy_shadow_decisions_total',
    help: 'Shadow bundle decisions compared with the live ones: same, allow_to_deny, deny_to_allow, obligations_changed.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly evaluatorChecks = new Counter({
    name: 'ztgate_policy_evaluator_checks_total',
    help: 'Fast-path decisions re-decided by cedar-wasm alone: agree, or disagree (a defect: see the error log).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly #stageTimers = new Map<StageName, ReturnType<Histogram<'stage'>['labels']>>();

  constructor(defaultMetrics = true) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'ztgate_process_' });
  }

  /** Exposes a KeyManager's data-key cache: lookups by result, and entries per side. */
  watchKeyCache(keys: KeyManager): void {
    const stats = keys.cache.stats;
    new Gauge({
      name: 'ztgate_key_cache_lookups',
      help: 'Data-key cache lookups since start, by result (hit, miss) and entries evicted (evicted).',
      labelNames: ['result'] as const,
      registers: [this.registry],
      collect() {
        this.set({ result: 'hit' }, stats.hits);
        this.set({ result: 'miss' }, stats.misses);
        this.set({ result: 'evicted' }, stats.evictions);
      },
    });
    new Gauge({
      name: 'ztgate_key_cache_entries',
      help: 'Plaintext data keys held in the cache, by side (encrypt, decrypt).',
      labelNames: ['side'] as const,
      registers: [this.registry],
      collect() {
        this.set({ side: 'encrypt' }, keys.cache.size('encrypt'));
        this.set({ side: 'decrypt' }, keys.cache.size('decrypt'));
      },
    });
  }

  /** Records a key provider operation (the observer of keys/instrument.ts). */
  observeKeyOperation(provider: string, operation: string, seconds: number, outcome: string): void {
    this.keyOperations.inc({ provider, operation, outcome });
    this.keyOperationDuration.observe({ provider, operation }, seconds);
  }

  /** Records a stage's duration and outcome (children are cached: this is on the hot path). */
  observeStage(stage: StageName, seconds: number, outcome: string): void {
    let timer = this.#stageTimers.get(stage);
    if (!timer) {
      timer = this.stageDuration.labels(stage);
      this.#stageTimers.set(stage, timer);
    }
    timer.observe(seconds);
    this.stageOutcomes.inc({ stage, outcome });
  }
}
