import type {
  ChatCompletion,
  ChatCompletionChunk,
  Finding,
  OutputScanStage,
  RequestContext,
  StreamScanner,
  Transformation,
} from '../core/index.js';
import { OutputBlockedError } from '../core/index.js';
import { AnswerWindow } from './answer-stream.js';
import { cleanAnswerText, type AnswerPolicy } from './answer-text.js';
import {
  heldFinding,
  heldNote,
  refusalNote,
  refusedFinding,
  StreamToolGate,
  toolNameOf,
  type PendingApproval,
  type ToolAuthorizer,
  type ToolCallLike,
  type ToolHolder,
} from './tool-calls.js';
import { CANARY_TYPE } from './transform.js';

export interface OutputScannerOptions {
  /** Detectors and actions for answer text; absent: answers are only restored. */
  readonly policy?: AnswerPolicy;
  /** Characters of a streamed answer held back for scanning (guard.output.holdBackChars). */
  readonly holdBack?: number;
  /** Policy on the tool calls a model proposes (`invoke_tool`); absent: all pass. */
  readonly authorizeTool?: ToolAuthorizer;
  /** Keeps a held tool call for approval; absent, a held call is refused (fail closed). */
  readonly holdTool?: ToolHolder;
}

const DEFAULT_HOLD_BACK = 64;
const REPLACEMENT_KINDS = new Set(['redact', 'pseudonymize', 'hash', 'mask']);
const NO_POLICY: AnswerPolicy = { scan: () => [], redact: new Set(), block: new Set() };

interface Tally {
  redacted: number;
  restored: number;
  refused: number;
  held: number;
}

/** The field of an answer's message (or last delta) listing its held tool calls. */
export const PENDING_APPROVALS_FIELD = 'ztgate_pending_approvals';

function transformationsOf(t: Tally): Transformation[] {
  const out: Transformation[] = [];
  if (t.redacted) out.push({ stage: 'scan_output', kind: 'redact', count: t.redacted });
  if (t.restored) out.push({ stage: 'scan_output', kind: 'restore', count: t.restored });
  if (t.refused) out.push({ stage: 'scan_output', kind: 'tool_call_refused', count: t.refused });
  if (t.held) out.push({ stage: 'scan_output', kind: 'tool_call_held', count: t.held });
  return out;
}

/**
 * The answer policy of one request: the configured one; plus the types the decision's
 * replacement obligations protect (what policy keeps from the model it also keeps from the
 * caller when the model produces it by itself: the prompt's own values are placeholders by
 * then, restored only afterwards); plus the request's canary.
 */
function policyFor(
  policy: AnswerPolicy | undefined,
  ctx: Readonly<RequestContext>,
): AnswerPolicy | undefined {
  const protectedTypes = (ctx.decision?.obligations ?? [])
    .filter((o) => REPLACEMENT_KINDS.has(o.kind))
    .flatMap((o) => o.value.split(','));
  const canary = ctx.canary;
  if (!canary && protectedTypes.length === 0) return policy;
  const base = policy ?? NO_POLICY;
  if (!canary) return { ...base, redact: new Set([...base.redact, ...protectedTypes]) };
  return {
    scan: (text) => {
      const out = [...base.scan(text)];
      for (let at = text.indexOf(canary); at >= 0; at = text.indexOf(canary, at + 1))
        out.push({ type: CANARY_TYPE, start: at, end: at + canary.length, score: 1, recognizer: 'canary' });
      return out;
    },
    redact: new Set([...base.redact, ...protectedTypes]),
    block: new Set([...base.block, CANARY_TYPE]),
  };
}

const restoreArgs = (ctx: Readonly<RequestContext>, call: ToolCallLike, tally: Tally): ToolCallLike => {
  const args = call.function?.arguments;
  if (!ctx.restorer || typeof args !== 'string') return call;
  const r = ctx.restorer.restore(args);
  tally.restored += r.restored;
  return { ...call, function: { ...call.function, arguments: r.text } };
};

/**
 * The scan-output stage: every answer, whole or streamed, is checked before the client sees
 * it. Detections of `block` types withhold it (`output_blocked`), `redact` types become
 * `[TYPE]`, the transform stage's placeholders are restored where `reveal` allows, and each
 * tool call the model proposes is decided by policy (`invoke_tool`): a refused one is removed
 * and named in a note. Streams pass through a hold-back window (answer-stream.ts), never skipped.
 */
export function createOutputScanner(options: OutputScannerOptions = {}): OutputScanStage {
  const holdBack = options.holdBack ?? DEFAULT_HOLD_BACK;
  const authorizeTool = options.authorizeTool;
  const holdTool = options.holdTool;
  /** Holds one call; without a holder, or when it cannot be kept, the call is refused instead. */
  const hold = async (
    ctx: Readonly<RequestContext>,
    call: { name: string; arguments: string; callId?: string },
  ): Promise<PendingApproval | undefined> => {
    if (!holdTool) return undefined;
    const approvalId = await holdTool(ctx, call);
    return { approval_id: approvalId, tool: call.name, status: 'pending' };
  };
  return {
    async scan(ctx, response) {
      const policy = policyFor(options.policy, ctx);
      if (response.route !== 'chat.completions' || (!policy && !ctx.restorer && !authorizeTool))
        return { response, findings: [], transformations: [] };
      const findings: Finding[] = [];
      const tally: Tally = { redacted: 0, restored: 0, refused: 0, held: 0 };
      const choices = [];
      for (const [i, choice] of response.body.choices.entries()) {
        let text = typeof choice.message.content === 'string' ? choice.message.content : undefined;
        if (text !== undefined && policy) {
          const cleaned = cleanAnswerText(text, policy, i);
          findings.push(...cleaned.findings);
          if (cleaned.blocked)
            throw new OutputBlockedError({
              logDetail: `answer contained ${cleaned.blocked}`,
              blocked: [cleaned.blocked],
            });
          tally.redacted += cleaned.redacted;
          text = cleaned.text;
        }
        if (text !== undefined && ctx.restorer) {
          const r = ctx.restorer.restore(text);
          tally.restored += r.restored;
          text = r.text;
        }
        const calls = Array.isArray(choice.message.tool_calls)
          ? (choice.message.tool_calls as ToolCallLike[])
          : [];
        const refused: string[] = [];
        const pending: PendingApproval[] = [];
        const kept: ToolCallLike[] = [];
        for (const call of calls) {
          const name = toolNameOf(call);
          const verdict = name === undefined ? 'deny' : authorizeTool ? authorizeTool(ctx, name) : 'allow';
          if (verdict === 'allow') kept.push(call);
          else if (verdict === 'hold' && name !== undefined) {
            const args = typeof call.function?.arguments === 'string' ? call.function.arguments : '';
            const held = await hold(ctx, {
              name,
              arguments: args,
              ...(typeof call.id === 'string' ? { callId: call.id } : {}),
            });
            if (held) pending.push(held);
            else refused.push(name);
          } else refused.push(name ?? '(unnamed)');
        }
        tally.refused += refused.length;
        tally.held += pending.length;
        if (refused.length) {
          findings.push(refusedFinding(i));
          text = [text, refusalNote(refused)].filter(Boolean).join('\n');
        }
        if (pending.length) {
          findings.push(heldFinding(i));
          text = [text, heldNote(pending)].filter(Boolean).join('\n');
        }
        const message = {
          ...choice.message,
          ...(text !== undefined ? { content: text } : {}),
          ...(pending.length ? { [PENDING_APPROVALS_FIELD]: pending } : {}),
          ...(calls.length
            ? { tool_calls: kept.length ? kept.map((c) => restoreArgs(ctx, c, tally)) : undefined }
            : {}),
        };
        if (calls.length && !kept.length) delete (message as { tool_calls?: unknown }).tool_calls;
        const finish =
          calls.length && !kept.length && choice.finish_reason === 'tool_calls'
            ? 'stop'
            : choice.finish_reason;
        choices.push({ ...choice, message, finish_reason: finish });
      }
      const body: ChatCompletion = { ...response.body, choices };
      return {
        response: { route: 'chat.completions', body },
        findings,
        transformations: transformationsOf(tally),
      };
    },
    openStream(ctx): StreamScanner {
      const policy = policyFor(options.policy, ctx);
      if (!policy && !ctx.restorer && !authorizeTool) return passThrough();
      return new ScannedStream(ctx, policy ?? NO_POLICY, policy ? holdBack : 0, authorizeTool, hold);
    },
  };
}

/** One streamed answer: a hold-back window and a tool gate per choice. */
class ScannedStream implements StreamScanner {
  readonly #windows = new Map<number, { window: AnswerWindow; gate: StreamToolGate | undefined }>();
  readonly #done: { window: AnswerWindow; gate: StreamToolGate | undefined }[] = [];
  readonly #tally: Tally = { redacted: 0, restored: 0, refused: 0, held: 0 };
  readonly #extra: Finding[] = [];
  #last: ChatCompletionChunk | undefined;

  constructor(
    private readonly ctx: Readonly<RequestContext>,
    private readonly policy: AnswerPolicy,
    private readonly holdBack: number,
    private readonly authorizeTool: ToolAuthorizer | undefined,
    private readonly hold: (
      ctx: Readonly<RequestContext>,
      call: { name: string; arguments: string; callId?: string },
    ) => Promise<PendingApproval | undefined>,
  ) {}

  #stateOf(index: number) {
    let s = this.#windows.get(index);
    if (!s) {
      s = {
        window: new AnswerWindow(this.policy, this.holdBack, index, this.ctx.restorer),
        gate: this.authorizeTool ? new StreamToolGate(this.ctx, this.authorizeTool) : undefined,
      };
      this.#windows.set(index, s);
    }
    return s;
  }

  async #close(
    index: number,
    s: { window: AnswerWindow; gate: StreamToolGate | undefined },
  ): Promise<{ text: string; pending: PendingApproval[] }> {
    this.#windows.delete(index);
    this.#done.push(s);
    let text = s.window.end();
    const pending: PendingApproval[] = [];
    const refused = [...(s.gate?.refused ?? [])];
    for (const call of s.gate?.held.values() ?? []) {
      const held = await this.hold(this.ctx, {
        name: call.name,
        arguments: call.args.join(''),
        ...(call.callId !== undefined ? { callId: call.callId } : {}),
      });
      if (held) pending.push(held);
      else refused.push(call.name);
    }
    if (refused.length) {
      this.#tally.refused += refused.length;
      this.#extra.push(refusedFinding(index));
      text += (text ? '\n' : '') + refusalNote(refused);
    }
    if (pending.length) {
      this.#tally.held += pending.length;
      this.#extra.push(heldFinding(index));
      text += (text ? '\n' : '') + heldNote(pending);
    }
    return { text, pending };
  }

  async push(chunk: ChatCompletionChunk): Promise<readonly ChatCompletionChunk[]> {
    this.#last = chunk;
    const choices = [];
    for (const choice of chunk.choices) {
      const s = this.#stateOf(choice.index);
      const hadContent = typeof choice.delta.content === 'string';
      let text = s.window.push(hadContent ? (choice.delta.content as string) : '');
      const delta: Record<string, unknown> = { ...choice.delta };
      const calls = Array.isArray(choice.delta.tool_calls)
        ? (choice.delta.tool_calls as ToolCallLike[])
        : undefined;
      if (calls) {
        const kept = (s.gate ? s.gate.filter(calls) : calls).map((c) =>
          restoreArgs(this.ctx, c, this.#tally),
        );
        if (kept.length) delta.tool_calls = kept;
        else delete delta.tool_calls;
      }
      let finish = choice.finish_reason;
      if (finish !== null) {
        if (finish === 'tool_calls' && s.gate?.allRefused) finish = 'stop';
        const closed = await this.#close(choice.index, s);
        text += closed.text;
        if (closed.pending.length) delta[PENDING_APPROVALS_FIELD] = closed.pending;
      }
      if (hadContent || text !== '') delta.content = text;
      choices.push({ ...choice, delta, finish_reason: finish });
    }
    return [{ ...chunk, choices }];
  }

  async end(): Promise<readonly ChatCompletionChunk[]> {
    // Choices the upstream never finished: release what is left in one last chunk.
    const rest = [];
    for (const [index, s] of [...this.#windows.entries()]) {
      const closed = await this.#close(index, s);
      rest.push({
        index,
        delta: {
          content: closed.text,
          ...(closed.pending.length ? { [PENDING_APPROVALS_FIELD]: closed.pending } : {}),
        },
        finish_reason: null,
      });
    }
    const last = this.#last;
    if (!last || rest.every((c) => c.delta.content === '')) return [];
    return [
      {
        id: last.id,
        object: 'chat.completion.chunk',
        created: last.created,
        model: last.model,
        choices: rest,
      },
    ];
  }

  #all(): AnswerWindow[] {
    return [...this.#done, ...this.#windows.values()].map((s) => s.window);
  }

  findings(): readonly Finding[] {
    return [...this.#all().flatMap((w) => w.findings), ...this.#extra];
  }

  transformations(): readonly Transformation[] {
    const windows = this.#all();
    return transformationsOf({
      redacted: windows.reduce((n, w) => n + w.redacted, 0),
      restored: windows.reduce((n, w) => n + w.restored, 0) + this.#tally.restored,
      refused: this.#tally.refused,
      held: this.#tally.held,
    });
  }
}

function passThrough(): StreamScanner {
  return {
    async push(chunk: ChatCompletionChunk) {
      return [chunk];
    },
    async end() {
      return [];
    },
    findings: () => [],
    transformations: () => [],
  };
}
