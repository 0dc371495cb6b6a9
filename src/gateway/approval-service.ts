// Held tool calls: a tool call policy marks `require_approval` is kept back from the client and
// stored here until a person approves or denies it. Metadata is a control record (namespace
// `approval`); the call itself (its arguments may hold personal data) is an encrypted object
// under the `tool-approvals` key. Every step is a ledger control entry.
import { randomBytes } from 'node:crypto';
import { ZtError, type AuditEntry, type RequestContext } from '../core/index.js';
import type { HeldToolCall } from '../guard/tool-calls.js';
import type { EncryptedObjects, KeyManager } from '../keys/index.js';
import type { ControlRecord, ControlRecordRepository } from '../store/index.js';
import { controlAuditEntry } from './control-audit.js';

export const APPROVAL_KEY = 'tool-approvals';
const NAMESPACE = 'approval';
const APPROVAL_ID = /^apr_[A-Za-z0-9_-]{22}$/;

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'released' | 'expired';

/** What admins and the requesting client see of an approval (never the call's arguments to admins by default). */
export interface ApprovalView {
  readonly id: string;
  readonly status: ApprovalStatus;
  readonly tool: string;
  readonly requestedBy: string;
  readonly requestId: string;
  readonly model: string | null;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly decidedBy?: string;
  readonly decidedAt?: string;
  readonly reason?: string;
}

/** Why an approval action was refused (stable codes the admin and data-plane APIs answer with). */
export class ApprovalRefused extends Error {
  constructor(
    readonly code: 'approval_not_found' | 'approval_not_pending' | 'approval_conflict' | 'approval_expired',
  ) {
    super(code);
  }
}

export interface ApprovalServiceOptions {
  readonly records: ControlRecordRepository;
  readonly objects: EncryptedObjects;
  readonly keys: KeyManager;
  readonly audit: (entry: AuditEntry) => Promise<unknown>;
  /** How long a held call waits for a decision and, approved, for its client. Default 24 h. */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

function viewOf(r: ControlRecord, now = Date.now()): ApprovalView {
  const b = r.body as Record<string, unknown>;
  const str = (k: string): string | undefined => (typeof b[k] === 'string' ? (b[k] as string) : undefined);
  const expiresAt = str('expiresAt') ?? r.createdAt;
  // Undecided past its time, or approved and never fetched: it can no longer take effect.
  const lapsed = (r.status === 'pending' || r.status === 'approved') && Date.parse(expiresAt) <= now;
  return {
    id: r.id,
    status: lapsed ? 'expired' : (r.status as ApprovalStatus),
    tool: str('tool') ?? '',
    requestedBy: str('requestedBy') ?? '',
    requestId: str('requestId') ?? '',
    model: str('model') ?? null,
    createdAt: r.createdAt,
    expiresAt,
    ...(str('decidedBy') ? { decidedBy: str('decidedBy') as string } : {}),
    ...(str('decidedAt') ? { decidedAt: str('decidedAt') as string } : {}),
    ...(str('reason') ? { reason: str('reason') as string } : {}),
  };
}

const context = (id: string) => ({ tenant: 'ztgate', purpose: 'tool-approvals', recordId: id });

export class ApprovalService {
  readonly #o: ApprovalServiceOptions;
  readonly #now: () => number;
  readonly #ttlMs: number;

  constructor(options: ApprovalServiceOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#ttlMs = options.ttlMs ?? 86_400_000;
  }

  async start(): Promise<void> {
    await this.#o.keys.ensureKey(APPROVAL_KEY, 'aes-256-gcm', 'system');
  }

  static isId(id: string): boolean {
    return APPROVAL_ID.test(id);
  }

  /** Keeps a held call (the output scanner's ToolHolder); resolves to its approval id once stored and recorded. */
  async hold(ctx: Readonly<RequestContext>, call: HeldToolCall): Promise<string> {
    const id = `apr_${randomBytes(16).toString('base64url')}`;
    const now = this.#now();
    const requestedBy = ctx.principal?.id ?? '';
    const stored = {
      name: call.name,
      arguments: call.arguments,
      ...(call.callId ? { callId: call.callId } : {}),
    };
    await this.#o.objects.put(APPROVAL_KEY, context(id), Buffer.from(JSON.stringify(stored)));
    const created = await this.#o.records.create({
      namespace: NAMESPACE,
      id,
      status: 'pending',
      subject: `principal:${requestedBy}`,
      createdAt: new Date(now).toISOString(),
      body: {
        tool: call.name,
        requestedBy,
        requestId: ctx.id,
        model: typeof ctx.request.body.model === 'string' ? ctx.request.body.model : null,
        expiresAt: new Date(now + this.#ttlMs).toISOString(),
      },
    });
    if (!created) throw new Error('approval id collision');
    await this.#o.audit(
      this.#entry('approval.requested', id, requestedBy, 'ok', [`tool:${call.name}`, `request:${ctx.id}`]),
    );
    return id;
  }

  async get(id: string): Promise<ApprovalView | undefined> {
    if (!ApprovalService.isId(id)) return undefined;
    const r = await this.#o.records.get(NAMESPACE, id);
    return r ? viewOf(r, this.#now()) : undefined;
  }

  async list(status?: ApprovalStatus, limit = 100): Promise<readonly ApprovalView[]> {
    // `expired` is not stored: it is an undecided (or unfetched) approval past its time.
    const stored = status === 'expired' ? undefined : status;
    const rows = await this.#o.records.list({
      namespace: NAMESPACE,
      ...(stored ? { status: stored } : {}),
      limit: status === 'expired' ? 1000 : limit,
    });
    const views = rows.map((r) => viewOf(r, this.#now()));
    return status ? views.filter((v) => v.status === status).slice(0, limit) : views;
  }

  /** The admin's decision; the caller has already asked policy (`approve_tool_call`, no self-approval). */
  async decide(
    id: string,
    actor: string,
    verdict: 'approve' | 'deny',
    reason?: string,
  ): Promise<ApprovalView> {
    const r = ApprovalService.isId(id) ? await this.#o.records.get(NAMESPACE, id) : undefined;
    if (!r) throw new ApprovalRefused('approval_not_found');
    const view = viewOf(r, this.#now());
    if (view.status === 'expired') throw new ApprovalRefused('approval_expired');
    if (r.status !== 'pending') throw new ApprovalRefused('approval_not_pending');
    const status = verdict === 'approve' ? 'approved' : 'denied';
    // Recorded before it takes effect: an approval the ledger does not hold never releases a call.
    await this.#o.audit(
      this.#entry(`approval.${status}`, id, actor, 'ok', [
        `tool:${view.tool}`,
        `requestedBy:${view.requestedBy}`,
        ...(reason ? [`reason:${reason}`] : []),
      ]),
    );
    const next = await this.#o.records.update(NAMESPACE, id, r.version, {
      status,
      body: {
        ...r.body,
        decidedBy: actor,
        decidedAt: new Date(this.#now()).toISOString(),
        ...(reason ? { reason } : {}),
      },
      updatedAt: new Date(this.#now()).toISOString(),
    });
    if (!next) throw new ApprovalRefused('approval_conflict');
    return viewOf(next);
  }

  /**
   * The requesting principal asks again with the approval id: an approved call is released (and
   * recorded); anything else shows its status. Another principal learns nothing (not found).
   */
  async claim(
    id: string,
    principalId: string,
  ): Promise<{ view: ApprovalView; call?: { name: string; arguments: string; callId?: string } }> {
    const r = ApprovalService.isId(id) ? await this.#o.records.get(NAMESPACE, id) : undefined;
    const view = r && viewOf(r, this.#now());
    if (!r || !view || view.requestedBy !== principalId) throw new ApprovalRefused('approval_not_found');
    if (view.status === 'expired') throw new ApprovalRefused('approval_expired');
    if (view.status !== 'approved' && view.status !== 'released') return { view };
    const plain = await this.#o.objects.get(context(id));
    if (!plain) throw new ApprovalRefused('approval_not_found');
    const call = JSON.parse(plain.toString('utf8')) as { name: string; arguments: string; callId?: string };
    if (view.status === 'approved') {
      await this.#o.audit(this.#entry('approval.released', id, principalId, 'ok', [`tool:${view.tool}`]));
      const next = await this.#o.records.update(NAMESPACE, id, r.version, {
        status: 'released',
        body: { ...r.body, releasedAt: new Date(this.#now()).toISOString() },
        updatedAt: new Date(this.#now()).toISOString(),
      });
      return { view: next ? viewOf(next) : { ...view, status: 'released' }, call };
    }
    return { view, call };
  }

  /**
   * The data plane's answer to a client asking again (OpenAI tool-call shape once approved);
   * undefined when there is no such approval for this principal. Throws ZtError when expired.
   */
  async clientAnswer(id: string, principalId: string): Promise<object | undefined> {
    let claimed;
    try {
      claimed = await this.claim(id, principalId);
    } catch (err) {
      if (err instanceof ApprovalRefused && err.code === 'approval_expired')
        throw new ZtError('approval_expired', 'ingress');
      if (err instanceof ApprovalRefused) return undefined;
      throw err;
    }
    const { view, call } = claimed;
    return {
      approval_id: view.id,
      status: view.status,
      tool: view.tool,
      ...(view.decidedAt ? { decided_at: view.decidedAt } : {}),
      ...(call
        ? {
            tool_call: {
              ...(call.callId ? { id: call.callId } : {}),
              type: 'function',
              function: { name: call.name, arguments: call.arguments },
            },
          }
        : {}),
    };
  }

  #entry(action: string, id: string, actor: string, outcome: 'ok' | 'failed', details: string[]): AuditEntry {
    return controlAuditEntry({
      action,
      target: `approval:${id}`,
      actor,
      authMethod: action === 'approval.requested' || action === 'approval.released' ? 'data-plane' : 'admin',
      outcome,
      details,
    });
  }
}
