// Runs the actions of a playbook that fired, each recorded as an incident entry with its outcome.
// One failing action never stops the others (a webhook that is down must not keep a quarantine
// from taking effect); quarantine runs first, so containment never waits on slower actions.
import type { RevocationList } from '../identity/revocation-list.js';
import type { KeyManager } from '../keys/index.js';
import type { ApiKeyRepository } from '../store/index.js';
import { notifyAll, type IncidentNotice, type Notifier } from '../watch/notify.js';
import type { PlaybookAction } from '../watch/playbook-schema.js';
import type { Trigger } from '../watch/playbook-engine.js';
import type { QuarantineKind, QuarantineList } from '../watch/quarantine-list.js';
import type { IncidentService, IncidentSeverity, IncidentView } from './incident-service.js';

export interface ResponseTargets {
  readonly incidents: IncidentService;
  readonly quarantines: QuarantineList;
  /** Principals whose tool calls are held for approval (a second list on the same bus). */
  readonly underApproval: QuarantineList;
  readonly revocations: Pick<RevocationList, 'revoke'>;
  readonly apiKeys: Pick<ApiKeyRepository, 'list' | 'revoke'>;
  readonly keys: Pick<KeyManager, 'rotateKey'>;
  /** Takes a runtime out of routing on every replica; false when there is no such upstream. */
  readonly disableRuntime: (runtimeId: string, reason: string, incidentId: string) => Promise<boolean>;
  /** Builds the notifier of a `notify` action (webhook secrets resolved; syslog from config). */
  readonly notifierFor: (action: Extract<PlaybookAction, { kind: 'notify' }>) => Promise<Notifier>;
  /** Where the triggering request came from, for revocations of its session. */
  readonly sessionOf?: (requestId: string) => string | undefined;
}

const ORDER: Readonly<Record<PlaybookAction['kind'], number>> = {
  quarantine: 0,
  require_approval: 1,
  revoke: 2,
  disable_runtime: 3,
  rotate_key: 4,
  notify: 5,
};

export function severityOf(trigger: Trigger): IncidentSeverity {
  const kinds = new Set(trigger.actions.map((a) => a.kind));
  if (kinds.has('quarantine') && (kinds.has('rotate_key') || kinds.has('revoke'))) return 'critical';
  if (kinds.has('quarantine') || kinds.has('revoke') || kinds.has('disable_runtime')) return 'high';
  return kinds.has('require_approval') || kinds.has('rotate_key') ? 'medium' : 'low';
}

/** Opens the incident and runs every action of the trigger; returns the incident. */
export async function respond(trigger: Trigger, t: ResponseTargets): Promise<IncidentView> {
  const subject = trigger.subject;
  const incident = await t.incidents.open({
    playbookId: trigger.playbookId,
    subject,
    severity: severityOf(trigger),
    reason: trigger.reason,
    evidence: trigger.evidence,
  });
  const actor = `playbook:${trigger.playbookId}`;
  const actions = [...trigger.actions].sort((a, b) => ORDER[a.kind] - ORDER[b.kind]);
  const notices: Extract<PlaybookAction, { kind: 'notify' }>[] = [];
  for (const action of actions) {
    if (action.kind === 'notify') {
      notices.push(action);
      continue;
    }
    try {
      const details = await run(action, trigger, incident.id, actor, t);
      await t.incidents.action(incident.id, actor, action.kind, 'ok', details);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await t.incidents.action(incident.id, actor, action.kind, 'failed', [`error:${message.slice(0, 200)}`]);
    }
  }
  if (notices.length > 0) {
    const notice: IncidentNotice = {
      incidentId: incident.id,
      playbookId: trigger.playbookId,
      severity: incident.severity,
      subject,
      actions: actions.map((a) => a.kind),
      evidence: trigger.evidence,
      reason: trigger.reason,
      time: incident.openedAt,
    };
    const notifiers: Notifier[] = [];
    for (const n of notices) {
      try {
        notifiers.push(await t.notifierFor(n));
      } catch (err) {
        await t.incidents.action(incident.id, actor, 'notify', 'failed', [`error:${(err as Error).message}`]);
      }
    }
    const failures: string[] = [];
    const delivered = await notifyAll(notifiers, notice, (err, notifier) =>
      failures.push(`${notifier.label}:${(err as { code?: string }).code ?? 'failed'}`),
    );
    await t.incidents.action(incident.id, actor, 'notify', failures.length ? 'failed' : 'ok', [
      `delivered:${delivered}`,
      ...failures.map((f) => `error:${f}`),
    ]);
  }
  return (await t.incidents.get(incident.id)) ?? incident;
}

async function run(
  action: Exclude<PlaybookAction, { kind: 'notify' }>,
  trigger: Trigger,
  incidentId: string,
  actor: string,
  t: ResponseTargets,
): Promise<string[]> {
  const { kind: subjectKind, id: subjectId } = trigger.subject;
  switch (action.kind) {
    case 'quarantine': {
      const record = await t.quarantines.quarantine({
        target: { kind: subjectKind as QuarantineKind, id: subjectId },
        reason: `${trigger.playbookId}: ${trigger.reason}`.slice(0, 500),
        incidentId,
        actor,
        ...(action.forMs ? { untilMs: Date.now() + action.forMs } : {}),
      });
      return [
        `target:${subjectKind}:${subjectId}`,
        `seq:${record.seq}`,
        ...(action.forMs ? [`for:${action.forMs}ms`] : []),
      ];
    }
    case 'require_approval': {
      await t.underApproval.quarantine({
        target: { kind: 'principal', id: subjectId },
        reason: `${trigger.playbookId}: tool calls need approval`,
        incidentId,
        actor,
      });
      return [`principal:${subjectId}`];
    }
    case 'revoke':
      return revoke(action.what, trigger, actor, t);
    case 'disable_runtime': {
      const runtime = action.runtime === 'triggering' ? trigger.upstream : action.runtime;
      if (!runtime) throw new Error('no runtime served the triggering request');
      if (!(await t.disableRuntime(runtime, actor, incidentId))) throw new Error(`no upstream ${runtime}`);
      return [`runtime:${runtime}`];
    }
    case 'rotate_key': {
      const info = await t.keys.rotateKey(action.key, actor);
      return [`key:${action.key}@${info.primaryVersion}`];
    }
  }
}

async function revoke(
  what: readonly ('sessions' | 'tokens' | 'api_keys')[],
  trigger: Trigger,
  actor: string,
  t: ResponseTargets,
): Promise<string[]> {
  if (trigger.subject.kind !== 'principal' && trigger.subject.kind !== 'session')
    throw new Error(`revoke applies to principals and sessions, not ${trigger.subject.kind}`);
  const principal = trigger.subject.kind === 'principal' ? trigger.subject.id : undefined;
  const done: string[] = [];
  const reason = `playbook ${trigger.playbookId}`;
  if (what.includes('tokens') && principal) {
    await t.revocations.revoke({ kind: 'subject', value: principal, reason, actor });
    done.push(`subject:${principal}`);
  }
  if (what.includes('sessions')) {
    const session =
      trigger.subject.kind === 'session' ? trigger.subject.id : t.sessionOf?.(trigger.requestId);
    if (session) {
      await t.revocations.revoke({ kind: 'session', value: session, reason, actor });
      done.push(`session:${session}`);
    } else if (principal) {
      // Without a session id, every token of the principal goes (its sessions with them).
      await t.revocations.revoke({ kind: 'subject', value: principal, reason, actor });
      done.push(`subject:${principal}`);
    }
  }
  if (what.includes('api_keys') && principal?.startsWith('service:')) {
    const service = principal.slice('service:'.length);
    const at = new Date().toISOString();
    for (const key of await t.apiKeys.list({ service, limit: 1000 })) {
      if (key.revokedAt) continue;
      await t.apiKeys.revoke(key.id, at);
      await t.revocations.revoke({ kind: 'apikey', value: key.id, reason, actor });
      done.push(`apikey:${key.id}`);
    }
  }
  return [...new Set(done)];
}
