// Watch and respond, as the gateway runs it: every ledger entry the pipeline emits becomes signals
// (off the request path, on the watch channel), signals move risk scores and baselines, playbooks
// fire on them, and their actions run as incidents. Quarantines and "tool calls need approval"
// are shared by every replica through the StateBus; risk and baselines are per replica.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { resolveSecret, type ZtgateConfig } from '../config/index.js';
import { PolicyError, type AuditEntry, type RequestContext } from '../core/index.js';
import type { RevocationList } from '../identity/revocation-list.js';
import type { KeyManager } from '../keys/index.js';
import type { PolicyBundle } from '../policy/index.js';
import type { StateBus, Store } from '../store/index.js';
import { Baselines } from '../watch/baseline.js';
import { syslogNotifier, webhookNotifier } from '../watch/notify.js';
import { PlaybookEngine, type Trigger } from '../watch/playbook-engine.js';
import { parsePlaybooks, type Playbook } from '../watch/playbook-schema.js';
import { prefixedBus } from '../watch/prefixed-bus.js';
import { QuarantineList, type QuarantineRecord } from '../watch/quarantine-list.js';
import { RiskScores } from '../watch/risk.js';
import { deriveSignals } from '../watch/signals.js';
import type { WatchChannel } from '../watch/index.js';
import { IncidentService } from './incident-service.js';
import { respond } from './response-actions.js';

export interface WatchService {
  readonly quarantines: QuarantineList;
  /** Principals whose tool calls are held for approval (playbook action `require_approval`). */
  readonly underApproval: QuarantineList;
  /** Model runtimes a playbook disabled (target kind `principal`, id = upstream id), on every replica. */
  readonly disabledRuntimes: QuarantineList;
  runtimeDisabled(upstreamId: string): boolean;
  readonly incidents: IncidentService;
  readonly risk: RiskScores;
  /** The risk (0..100, integer) policy sees for this request's principal, device and session. */
  riskOf(ctx: Readonly<RequestContext>): number;
  /** The active quarantine of this request's principal, device, session or workspace. */
  quarantineOf(ctx: Readonly<RequestContext>): QuarantineRecord | undefined;
  underApprovalOf(ctx: Readonly<RequestContext>): boolean;
  /** A new live bundle: its playbooks.yaml replaces the running playbooks. */
  applyBundle(bundle: PolicyBundle): void;
  /** The playbooks in force and where they came from. */
  playbooks(): { readonly source: string; readonly playbooks: readonly Playbook[] };
  /** Throws when the shared lists (quarantines, approvals, disabled runtimes) have not synced lately. */
  assertFresh(): void;
  /** Resolves once every event and response queued so far is done (tests, shutdown). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export interface WatchServiceOptions {
  readonly config: ZtgateConfig;
  readonly home: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly store: Store;
  readonly bus: StateBus;
  readonly channel: WatchChannel;
  readonly keys: KeyManager;
  readonly unseal?: Parameters<typeof resolveSecret>[4];
  readonly revocations: RevocationList;
  readonly audit: (entry: AuditEntry) => Promise<unknown>;
  readonly bundle: PolicyBundle;
  readonly disableRuntime?: (runtimeId: string, reason: string) => boolean;
  readonly logger: Logger;
}

function subjectOf(ctx: Readonly<RequestContext>) {
  const workspace = ctx.principal?.attributes.workspace;
  return {
    principalId: ctx.principal?.id ?? null,
    deviceId: ctx.device?.id ?? null,
    sessionId: ctx.principal?.sessionId ?? null,
    workspace: typeof workspace === 'string' ? workspace : null,
  };
}

export async function openWatchService(options: WatchServiceOptions): Promise<WatchService> {
  const { config, logger, store } = options;
  const settings = config.watch;
  const quarantines = new QuarantineList({
    bus: options.bus,
    onError: (err, during) => logger.warn({ err: (err as Error).message, during }, 'quarantine list'),
  });
  const underApproval = new QuarantineList({ bus: prefixedBus(options.bus, 'approval-required:') });
  const disabledRuntimes = new QuarantineList({ bus: prefixedBus(options.bus, 'runtime-disabled:') });
  await quarantines.start();
  await underApproval.start();
  await disabledRuntimes.start();
  const incidents = new IncidentService({
    records: store.records,
    ledger: store.audit,
    audit: options.audit,
  });
  const risk = new RiskScores({ halfLifeMs: settings.risk.halfLife });
  const baselines = new Baselines();

  const fromConfig = settings.playbooks
    ? parsePlaybooks(await readFile(resolve(options.home, settings.playbooks), 'utf8'))
    : undefined;
  let source = 'none';
  let engine = new PlaybookEngine([], { risk });
  const usePlaybooks = (bundle: PolicyBundle): void => {
    const playbooks = bundle.playbooks ?? fromConfig ?? [];
    source = bundle.playbooks
      ? `bundle:${bundle.digest}`
      : fromConfig
        ? `file:${settings.playbooks}`
        : 'none';
    engine = new PlaybookEngine(playbooks, { risk });
    current = playbooks;
    logger.info({ playbooks: playbooks.length, source }, 'watch: playbooks in force');
  };
  let current: readonly Playbook[] = [];
  usePlaybooks(options.bundle);

  const secret = (ref: string, where: string) =>
    resolveSecret(ref, where, options.home, options.env, options.unseal);
  const sessions = new Map<string, string>();
  const targets = {
    incidents,
    quarantines,
    underApproval,
    revocations: options.revocations,
    apiKeys: store.apiKeys,
    keys: options.keys,
    disableRuntime: async (runtimeId: string, reason: string, incidentId: string) => {
      if (!config.upstreams[runtimeId]) return false;
      await disabledRuntimes.quarantine({
        target: { kind: 'principal', id: runtimeId },
        reason,
        incidentId,
        actor: reason,
      });
      options.disableRuntime?.(runtimeId, reason);
      return true;
    },
    sessionOf: (requestId: string) => sessions.get(requestId),
    notifierFor: async (action: { webhook?: string; secret?: string; syslog?: true }) => {
      if (action.webhook) {
        if (!action.secret) throw new Error('a webhook needs a secret to sign with');
        return webhookNotifier({ url: action.webhook, secret: await secret(action.secret, 'notify.secret') });
      }
      const s = settings.syslog;
      if (!s) throw new Error('notify syslog: watch.syslog is not configured');
      return syslogNotifier({
        host: s.host,
        port: s.port,
        transport: s.transport,
        allowPlaintext: s.allowPlaintext,
        ...(s.ca ? { ca: await secret(s.ca, 'watch.syslog.ca') } : {}),
      });
    },
  };

  // Responses run one after another: two triggers on one subject never race each other.
  let queue: Promise<unknown> = Promise.resolve();
  const pending = new Set<Promise<unknown>>();
  const enqueue = (trigger: Trigger): void => {
    queue = queue.then(async () => {
      try {
        const incident = await respond(trigger, targets);
        logger.warn(
          {
            incident: incident.id,
            playbook: trigger.playbookId,
            subject: trigger.subject,
            actions: incident.actions,
          },
          'watch: playbook fired',
        );
      } catch (err) {
        logger.error({ playbook: trigger.playbookId, err: (err as Error).message }, 'watch: response failed');
      }
    });
    pending.add(queue);
    void queue.finally(() => pending.delete(queue));
  };

  const stop = settings.enabled
    ? options.channel.listen((event) => {
        const now = Date.now();
        const entry = event.entry;
        if (entry.sessionId) {
          sessions.set(entry.requestId, entry.sessionId);
          if (sessions.size > 10_000) sessions.delete(sessions.keys().next().value as string);
        }
        for (const signal of deriveSignals(event, baselines, now)) {
          risk.addSignal(signal, now);
          for (const trigger of engine.onSignal(signal, now)) enqueue(trigger);
        }
      })
    : () => undefined;

  return {
    quarantines,
    underApproval,
    disabledRuntimes,
    runtimeDisabled: (id) => disabledRuntimes.check({ principalId: id }) !== undefined,
    incidents,
    risk,
    riskOf: (ctx) => {
      if (!settings.enabled || !ctx.principal) return 0;
      const s = subjectOf(ctx);
      return Math.round(
        risk.forSubject(
          {
            principalId: s.principalId ?? '',
            ...(s.deviceId ? { deviceId: s.deviceId } : {}),
            ...(s.sessionId ? { sessionId: s.sessionId } : {}),
          },
          Date.now(),
        ),
      );
    },
    quarantineOf: (ctx) => quarantines.check(subjectOf(ctx)),
    underApprovalOf: (ctx) => underApproval.check({ principalId: ctx.principal?.id ?? null }) !== undefined,
    applyBundle: usePlaybooks,
    assertFresh: () => {
      quarantines.assertFresh();
      underApproval.assertFresh();
      disabledRuntimes.assertFresh();
    },
    playbooks: () => ({ source, playbooks: current }),
    idle: async () => {
      await new Promise((r) => setImmediate(r));
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    close: async () => {
      stop();
      await Promise.allSettled([...pending]);
      await quarantines.close();
      await underApproval.close();
      await disabledRuntimes.close();
    },
  };
}

/** The pipeline's admission check: a quarantined principal, device, session or workspace gets 403 `quarantined`. */
export function admitUnlessQuarantined(watch: Pick<WatchService, 'quarantineOf'>, ctx: RequestContext): void {
  const q = watch.quarantineOf(ctx);
  if (q)
    throw new PolicyError('quarantined', {
      logDetail: `${q.target.kind} ${q.target.id} quarantined${q.incidentId ? ` (incident ${q.incidentId})` : ''}`,
    });
}
