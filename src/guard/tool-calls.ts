import type { Finding, RequestContext } from '../core/index.js';

/** Decides whether the caller may receive a tool call the model proposed (policy `invoke_tool`). */
export type ToolAuthorizer = (ctx: Readonly<RequestContext>, toolName: string) => boolean;

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
 * which is decided once; every delta of a refused call is dropped.
 */
export class StreamToolGate {
  readonly #allowed = new Map<number, boolean>();
  readonly refused: string[] = [];
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
      let allowed = this.#allowed.get(index);
      if (allowed === undefined) {
        const name = toolNameOf(call);
        // A call whose first delta has no name cannot be decided: refuse it (fail closed).
        allowed = name !== undefined && this.authorize(this.ctx, name);
        this.#allowed.set(index, allowed);
        if (allowed) this.#kept++;
        else this.refused.push(name ?? '(unnamed)');
      }
      if (allowed) out.push(call);
    }
    return out;
  }

  /** Every proposed call was refused (a `tool_calls` finish becomes `stop`). */
  get allRefused(): boolean {
    return this.refused.length > 0 && this.#kept === 0;
  }
}
