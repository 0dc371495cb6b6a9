// Incidents: what a playbook opened, the actions it ran, and what people did about it. The state
// is a control record (namespace `incident`, compare-and-set); the history is in the ledger: every
// incident entry carries the incident id as its requestId, so the timeline is one indexed query,
// and each names the ledger entries (request ids) that were its evidence.
import { randomBytes } from 'node:crypto';
import type { AuditEntry } from '../core/index.js';
import type { AuditRecord, AuditRepository, ControlRecord, ControlRecordRepository } from '../store/index.js';
import { controlAuditEntry } from './control-audit.js';

const NAMESPACE = 'incident';
const INCIDENT_ID = /^inc_[A-Za-z0-9_-]{16}$/;

export type IncidentStatus = 'open' | 'acknowledged' | 'resolved';
export type IncidentSeverity = 'low' | 'medium' | 'high' | 'critical';

export interface IncidentView {
  readonly id: string;
  readonly status: IncidentStatus;
  readonly playbookId: string;
  readonly subject: { readonly kind: string; readonly id: string };
  readonly severity: IncidentSeverity;
  readonly reason: string;
  /** Request ids of the ledger entries that set it off. */
  readonly evidence: readonly string[];
  /** `kind:outcome` of each action run, in order. */
  readonly actions: readonly string[];
  readonly openedAt: string;
  readonly updatedAt: string;
  readonly acknowledgedBy?: string;
  readonly resolvedBy?: string;
  readonly note?: string;
}

export class IncidentRefused extends Error {
  constructor(readonly code: 'incident_not_found' | 'incident_conflict' | 'incident_transition') {
    super(code);
  }
}

function viewOf(r: ControlRecord): IncidentView {
  const b = r.body as Record<string, unknown>;
  const strs = (k: string): string[] =>
    Array.isArray(b[k]) ? (b[k] as unknown[]).filter((x): x is string => typeof x === 'string') : [];
  const str = (k: string): string | undefined => (typeof b[k] === 'string' ? (b[k] as string) : undefined);
  const [kind = '', ...rest] = (r.subject ?? ':').split(':');
  return {
    id: r.id,
    status: r.status as IncidentStatus,
    playbookId: str('playbookId') ?? '',
    subject: { kind, id: rest.join(':') },
    severity: (str('severity') ?? 'medium') as IncidentSeverity,
    reason: str('reason') ?? '',
    evidence: strs('evidence'),
    actions: strs('actions'),
    openedAt: r.createdAt,
    updatedAt: r.updatedAt,
    ...(str('acknowledgedBy') ? { acknowledgedBy: str('acknowledgedBy') as string } : {}),
    ...(str('resolvedBy') ? { resolvedBy: str('resolvedBy') as string } : {}),
    ...(str('note') ? { note: str('note') as string } : {}),
  };
}

export interface IncidentServiceOptions {
  readonly records: ControlRecordRepository;
  readonly ledger: Pick<AuditRepository, 'list'>;
  readonly audit: (entry: AuditEntry) => Promise<unknown>;
  readonly now?: () => number;
}

export class IncidentService {
  readonly #o: IncidentServiceOptions;
  readonly #now: () => number;

  constructor(options: IncidentServiceOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  static isId(id: string): boolean {
    return INCIDENT_ID.test(id);
  }

  /** Opens an incident: the ledger entry first (with its evidence), then the record. */
  async open(input: {
    playbookId: string;
    subject: { kind: string; id: string };
    severity: IncidentSeverity;
    reason: string;
    evidence: readonly string[];
  }): Promise<IncidentView> {
    const id = `inc_${randomBytes(12).toString('base64url')}`;
    await this.#o.audit(
      this.#entry(id, 'incident.opened', `playbook:${input.playbookId}`, 'ok', [
        `subject:${input.subject.kind}:${input.subject.id}`,
        `severity:${input.severity}`,
        `reason:${input.reason}`,
        ...input.evidence.map((r) => `evidence:${r}`),
      ]),
    );
    const at = new Date(this.#now()).toISOString();
    await this.#o.records.create({
      namespace: NAMESPACE,
      id,
      status: 'open',
      subject: `${input.subject.kind}:${input.subject.id}`,
      createdAt: at,
      body: {
        playbookId: input.playbookId,
        severity: input.severity,
        reason: input.reason,
        evidence: [...input.evidence],
        actions: [],
      },
    });
    return (await this.get(id)) as IncidentView;
  }

  /** Records one action the incident ran (ledger entry, then the record's action list). */
  async action(
    id: string,
    actor: string,
    kind: string,
    outcome: 'ok' | 'failed',
    details: readonly string[],
  ) {
    await this.#o.audit(
      this.#entry(
        id,
        `incident.action.${kind}`,
        actor,
        outcome,
        [...details],
        outcome === 'failed' ? 'action_failed' : undefined,
      ),
    );
    await this.#update(id, (r) => ({
      status: r.status,
      body: { ...r.body, actions: [...viewOf(r).actions, `${kind}:${outcome}`] },
    })).catch(() => undefined);
  }

  async get(id: string): Promise<IncidentView | undefined> {
    if (!IncidentService.isId(id)) return undefined;
    const r = await this.#o.records.get(NAMESPACE, id);
    return r ? viewOf(r) : undefined;
  }

  async list(query: {
    status?: IncidentStatus;
    subject?: string;
    limit?: number;
  }): Promise<readonly IncidentView[]> {
    const rows = await this.#o.records.list({
      namespace: NAMESPACE,
      ...(query.status ? { status: query.status } : {}),
      ...(query.subject ? { subject: query.subject } : {}),
      limit: query.limit ?? 100,
    });
    return rows.map(viewOf);
  }

  counts(): Promise<Readonly<Record<string, number>>> {
    return this.#o.records.countByStatus(NAMESPACE);
  }

  /** The incident's ledger entries and the evidence entries they name, oldest first. */
  async timeline(id: string): Promise<readonly AuditRecord[]> {
    const view = await this.get(id);
    if (!view) throw new IncidentRefused('incident_not_found');
    const own = await this.#o.ledger.list({ requestId: id, limit: 1000 });
    const evidence = (
      await Promise.all(view.evidence.map((requestId) => this.#o.ledger.list({ requestId, limit: 10 })))
    ).flat();
    return [...own, ...evidence].sort((a, b) => a.seq - b.seq);
  }

  acknowledge(id: string, actor: string, note?: string): Promise<IncidentView> {
    return this.#transition(id, actor, 'acknowledged', ['open'], 'acknowledgedBy', note);
  }

  resolve(id: string, actor: string, note?: string): Promise<IncidentView> {
    return this.#transition(id, actor, 'resolved', ['open', 'acknowledged'], 'resolvedBy', note);
  }

  async #transition(
    id: string,
    actor: string,
    to: IncidentStatus,
    from: readonly IncidentStatus[],
    field: string,
    note?: string,
  ): Promise<IncidentView> {
    const current = await this.get(id);
    if (!current) throw new IncidentRefused('incident_not_found');
    if (!from.includes(current.status)) throw new IncidentRefused('incident_transition');
    await this.#o.audit(
      this.#entry(id, `incident.${to}`, actor, 'ok', [
        `from:${current.status}`,
        ...(note ? [`note:${note}`] : []),
      ]),
    );
    const next = await this.#update(id, (r) => ({
      status: to,
      body: { ...r.body, [field]: actor, ...(note ? { note } : {}) },
    }));
    return viewOf(next);
  }

  async #update(
    id: string,
    change: (r: ControlRecord) => { status: string; body: Record<string, unknown> },
  ): Promise<ControlRecord> {
    // Compare-and-set, retried: an action recorded on another replica moves the version on.
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await this.#o.records.get(NAMESPACE, id);
      if (!r) throw new IncidentRefused('incident_not_found');
      const next = change(r);
      const updated = await this.#o.records.update(NAMESPACE, id, r.version, {
        ...next,
        updatedAt: new Date(this.#now()).toISOString(),
      });
      if (updated) return updated;
    }
    throw new IncidentRefused('incident_conflict');
  }

  #entry(
    id: string,
    action: string,
    actor: string,
    outcome: 'ok' | 'failed',
    details: string[],
    errorCode?: string,
  ): AuditEntry {
    const entry = controlAuditEntry({
      action,
      target: `incident:${id}`,
      actor,
      authMethod: actor.startsWith('playbook:') ? 'system' : 'admin',
      outcome,
      details,
      ...(errorCode ? { errorCode } : {}),
    });
    // The incident id as requestId: the timeline is one indexed ledger query.
    return { ...entry, requestId: id };
  }
}
