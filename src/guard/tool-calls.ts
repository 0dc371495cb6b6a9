import type { Finding, RequestContext } from '../core/index.js';

/**
 * Decides a tool call the model proposed (policy `invoke_tool`): `allow` passes it to the caller,
 * `deny` removes it, `hold` keeps it back until a person approves it (an allow that carries the
 * `require_approval` obligation, or a principal a playbook put under approval).
 */
export type ToolVerdict = 'allow' | 'deny' | 'hold';
export type ToolAuthorizer = (ctx: Readonly<RequestContext>, toolName: string) => ToolVerdict;

/** A tool call kept back for approval, whole (a streamed one once all its deltas arrived). */
export interface HeldToolCall {
  readonly name: string;
  readonly arguments: string;
  /** The model's id for the call (`tool_calls[].id`), when it gave one. */
  readonly callId?: string;
}

/** Stores a held call for approval and returns its approval id; throws when it cannot. */
export type ToolHolder = (ctx: Readonly<RequestContext>, call: HeldToolCall) => Promise<string>;

export const HELD_FINDING = 'TOOL_CALL_HELD';

/** What replaces a held call in the answer: the client asks again with the approval id. */
export interface PendingApproval {
  readonly approval_id: string;
  readonly tool: string;
  readonly status: 'pending';
}

export function heldNote(held: readonly PendingApproval[]): string {
  return held
    .map((h) => `[ztgate: tool call "${h.tool}" awaits approval; approval id ${h.approval_id}]`)
    .join('\n');
}

export function heldFinding(slot: number): Finding {
  return { detector: 'policy', type: HELD_FINDING, score: 1, location: { message: slot, start: 0, end: 0 } };
}

export interface ToolCallLike {
  readonly index?: number;
  readonly type?: string;
  readonly function?: { readonly name?: unknown; readonly arguments?: unknown };
  readonly [key: string]: unknown;
}

export const TOOL_FINDING = 'TOOL_CALL_REFUSED';

export function refusalNote(names: readonly string[]): string {
  return names.map((n) => `[ztgate: tool call "${n}" refused by policy]`).join('\n');
}

export function refusedFinding(slot: number): Finding {
  return { detector: 'policy', type: TOOL_FINDING, score: 1, location: { message: slot, start: 0, end: 0 } };
}

/** A tool call's function name, or `undefined` when it has none (a continuation delta). */
export function toolNameOf(call: ToolCallLike): string | undefined {
  const name = call.function?.name;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/**
 * Gates the tool calls of one streamed choice: the first delta of each call carries its name,
 * which is decided once; every delta of a refused call is dropped, and those of a held call are
 * gathered (in `held`) instead of sent.
 */
export class StreamToolGate {
  readonly #verdicts = new Map<number, ToolVerdict>();
  readonly refused: string[] = [];
  readonly held = new Map<number, { name: string; callId?: string; args: string[] }>();
  #kept = 0;

  constructor(
    private readonly ctx: Readonly<RequestContext>,
    private readonly authorize: ToolAuthorizer,
  ) {}

  /** The deltas of `calls` that may go to the client. */
  filter(calls: readonly ToolCallLike[]): ToolCallLike[] {
    const out: ToolCallLike[] = [];
    for (const call of calls) {
      const index = typeof call.index === 'number' ? call.index : 0;
      let verdict = this.#verdicts.get(index);
      if (verdict === undefined) {
        const name = toolNameOf(call);
        // A call whose first delta has no name cannot be decided: refuse it (fail closed).
        verdict = name === undefined ? 'deny' : this.authorize(this.ctx, name);
        this.#verdicts.set(index, verdict);
        if (verdict === 'allow') this.#kept++;
        else if (verdict === 'hold')
          this.held.set(index, {
            name: name as string,
            ...(typeof call.id === 'string' ? { callId: call.id } : {}),
            args: [],
          });
        else this.refused.push(name ?? '(unnamed)');
      }
      if (verdict === 'allow') out.push(call);
      else if (verdict === 'hold' && typeof call.function?.arguments === 'string')
        this.held.get(index)?.args.push(call.function.arguments);
    }
    return out;
  }

  /** No proposed call went to the client (a `tool_calls` finish becomes `stop`). */
  get allRefused(): boolean {
    return this.refused.length + this.held.size > 0 && this.#kept === 0;
  }
}
