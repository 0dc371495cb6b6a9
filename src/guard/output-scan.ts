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
  refusalNote,
  refusedFinding,
  StreamToolGate,
  toolNameOf,
  type ToolAuthorizer,
  type ToolCallLike,
} from './tool-calls.js';
import { CANARY_TYPE } from './transform.js';

export interface OutputScannerOptions {
  /** Detectors and actions for answer text; absent: answers are only restored. */
  readonly policy?: AnswerPolicy;
  /** Characters of a streamed answer held back for scanning (guard.output.holdBackChars). */
  readonly holdBack?: number;
  /** Policy on the tool calls a model proposes (`invoke_tool`); absent: all pass. */
  readonly authorizeTool?: ToolAuthorizer;
}

const DEFAULT_HOLD_BACK = 64;
const REPLACEMENT_KINDS = new Set(['redact', 'pseudonymize', 'hash', 'mask']);
const NO_POLICY: AnswerPolicy = { scan: () => [], redact: new Set(), block: new Set() };

interface Tally {
  redacted: number;
  restored: number;
  refused: number;
}

function transformationsOf(t: Tally): Transformation[] {
  const out: Transformation[] = [];
  if (t.redacted) out.push({ stage: 'scan_output', kind: 'redact', count: t.redacted });
  if (t.restored) out.push({ stage: 'scan_output', kind: 'restore', count: t.restored });
  if (t.refused) out.push({ stage: 'scan_output', kind: 'tool_call_refused', count: t.refused });
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
  return {
    async scan(ctx, response) {
      const policy = policyFor(options.policy, ctx);
      if (response.route !== 'chat.completions' || (!policy && !ctx.restorer && !authorizeTool))
        return { response, findings: [], transformations: [] };
      const findings: Finding[] = [];
      const tally: Tally = { redacted: 0, restored: 0, refused: 0 };
      const choices = response.body.choices.map((choice, i) => {
        let text = typeof choice.message.content === 'string' ? choice.message.content : undefined;
        if (text !== undefined && policy) {
          const cleaned = cleanAnswerText(text, policy, i);
          findings.push(...cleaned.findings);
          if (cleaned.blocked)
            throw new OutputBlockedError({ logDetail: `answer contained ${cleaned.blocked}` });
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
        const kept = calls.filter((call) => {
          const name = toolNameOf(call);
          const ok = name !== undefined && (!authorizeTool || authorizeTool(ctx, name));
          if (!ok) refused.push(name ?? '(unnamed)');
          return ok;
        });
        tally.refused += refused.length;
        if (refused.length) {
          findings.push(refusedFinding(i));
          text = [text, refusalNote(refused)].filter(Boolean).join('\n');
        }
        const message = {
          ...choice.message,
          ...(text !== undefined ? { content: text } : {}),
          ...(calls.length
            ? { tool_calls: kept.length ? kept.map((c) => restoreArgs(ctx, c, tally)) : undefined }
            : {}),
        };
        if (calls.length && !kept.length) delete (message as { tool_calls?: unknown }).tool_calls;
        const finish =
          calls.length && !kept.length && choice.finish_reason === 'tool_calls'
            ? 'stop'
            : choice.finish_reason;
        return { ...choice, message, finish_reason: finish };
      });
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
      return new ScannedStream(ctx, policy ?? NO_POLICY, policy ? holdBack : 0, authorizeTool);
    },
  };
}

/** One streamed answer: a hold-back window and a tool gate per choice. */
class ScannedStream implements StreamScanner {
  readonly #windows = new Map<number, { window: AnswerWindow; gate: StreamToolGate | undefined }>();
  readonly #done: { window: AnswerWindow; gate: StreamToolGate | undefined }[] = [];
  readonly #tally: Tally = { redacted: 0, restored: 0, refused: 0 };
  readonly #extra: Finding[] = [];
  #last: ChatCompletionChunk | undefined;

  constructor(
    private readonly ctx: Readonly<RequestContext>,
    private readonly policy: AnswerPolicy,
    private readonly holdBack: number,
    private readonly authorizeTool: ToolAuthorizer | undefined,
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

  #close(index: number, s: { window: AnswerWindow; gate: StreamToolGate | undefined }): string {
    this.#windows.delete(index);
    this.#done.push(s);
    let text = s.window.end();
    if (s.gate?.refused.length) {
      this.#tally.refused += s.gate.refused.length;
      this.#extra.push(refusedFinding(index));
      text += (text ? '\n' : '') + refusalNote(s.gate.refused);
    }
    return text;
  }

  async push(chunk: ChatCompletionChunk): Promise<readonly ChatCompletionChunk[]> {
    this.#last = chunk;
    const choices = chunk.choices.map((choice) => {
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
        text += this.#close(choice.index, s);
      }
      if (hadContent || text !== '') delta.content = text;
      return { ...choice, delta, finish_reason: finish };
    });
    return [{ ...chunk, choices }];
  }

  async end(): Promise<readonly ChatCompletionChunk[]> {
    // Choices the upstream never finished: release what is left in one last chunk.
    const rest = [...this.#windows.entries()].map(([index, s]) => ({
      index,
      delta: { content: this.#close(index, s) },
      finish_reason: null,
    }));
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
