import type {
  ChatCompletion,
  ChatCompletionChunk,
  Finding,
  OutputScanStage,
  StreamScanner,
  Transformation,
} from '../core/index.js';
import { OutputBlockedError } from '../core/index.js';
import { AnswerWindow } from './answer-stream.js';
import { cleanAnswerText, type AnswerPolicy } from './answer-text.js';
import { CANARY_TYPE } from './transform.js';

export interface OutputScannerOptions {
  /** Detectors and actions for answer text; absent: answers are only restored. */
  readonly policy?: AnswerPolicy;
  /** Characters of a streamed answer held back for scanning (guard.output.holdBackChars). */
  readonly holdBack?: number;
}

const DEFAULT_HOLD_BACK = 64;

function transformationsOf(redacted: number, restored: number): Transformation[] {
  const out: Transformation[] = [];
  if (redacted) out.push({ stage: 'scan_output', kind: 'redact', count: redacted });
  if (restored) out.push({ stage: 'scan_output', kind: 'restore', count: restored });
  return out;
}

/**
 * The scan-output stage: every answer, whole or streamed, is checked before the client sees
 * it. Detections of `block` types withhold it (`output_blocked`), `redact` types become
 * `[TYPE]`, and then the transform stage's placeholders are restored where `reveal` allows.
 * Streams pass through a hold-back window (answer-stream.ts), never skipped.
 */
export function createOutputScanner(options: OutputScannerOptions = {}): OutputScanStage {
  const holdBack = options.holdBack ?? DEFAULT_HOLD_BACK;
  return {
    async scan(ctx, response) {
      const policy = policyFor(options.policy, ctx.canary);
      if (response.route !== 'chat.completions' || (!policy && !ctx.restorer))
        return { response, findings: [], transformations: [] };
      const findings: Finding[] = [];
      let redacted = 0;
      let restored = 0;
      const choices = response.body.choices.map((choice, i) => {
        const content = choice.message.content;
        if (typeof content !== 'string') return choice;
        let text = content;
        if (policy) {
          const cleaned = cleanAnswerText(text, policy, i);
          findings.push(...cleaned.findings);
          if (cleaned.blocked)
            throw new OutputBlockedError({ logDetail: `answer contained ${cleaned.blocked}` });
          redacted += cleaned.redacted;
          text = cleaned.text;
        }
        if (ctx.restorer) {
          const r = ctx.restorer.restore(text);
          restored += r.restored;
          text = r.text;
        }
        return { ...choice, message: { ...choice.message, content: text } };
      });
      const body: ChatCompletion = { ...response.body, choices };
      return {
        response: { route: 'chat.completions', body },
        findings,
        transformations: transformationsOf(redacted, restored),
      };
    },
    openStream(ctx): StreamScanner {
      const policy = policyFor(options.policy, ctx.canary);
      if (!policy && !ctx.restorer) return passThrough();
      const answerPolicy: AnswerPolicy = policy ?? { scan: () => [], redact: new Set(), block: new Set() };
      const windows = new Map<number, AnswerWindow>();
      const finished: AnswerWindow[] = [];
      const windowOf = (index: number): AnswerWindow => {
        let w = windows.get(index);
        if (!w) {
          w = new AnswerWindow(answerPolicy, policy ? holdBack : 0, index, ctx.restorer);
          windows.set(index, w);
        }
        return w;
      };
      let last: ChatCompletionChunk | undefined;
      return {
        async push(chunk) {
          last = chunk;
          const choices = chunk.choices.map((choice) => {
            const w = windowOf(choice.index);
            const delta = typeof choice.delta.content === 'string' ? choice.delta.content : '';
            let text = w.push(delta);
            if (choice.finish_reason !== null) {
              text += w.end();
              windows.delete(choice.index);
              finished.push(w);
            }
            if (typeof choice.delta.content !== 'string' && text === '') return choice;
            return { ...choice, delta: { ...choice.delta, content: text } };
          });
          return [{ ...chunk, choices }];
        },
        async end() {
          // Choices the upstream never finished: release what is left in one last chunk.
          const rest = [...windows.entries()].map(([index, w]) => {
            finished.push(w);
            return { index, delta: { content: w.end() }, finish_reason: null };
          });
          windows.clear();
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
        },
        findings: () => [...finished, ...windows.values()].flatMap((w) => w.findings),
        transformations: () => {
          const all = [...finished, ...windows.values()];
          return transformationsOf(
            all.reduce((n, w) => n + w.redacted, 0),
            all.reduce((n, w) => n + w.restored, 0),
          );
        },
      };
    },
  };
}

/** The answer policy of one request: the configured one, plus its canary when it has one. */
function policyFor(policy: AnswerPolicy | undefined, canary: string | undefined): AnswerPolicy | undefined {
  if (!canary) return policy;
  const base = policy ?? { scan: () => [], redact: new Set<string>(), block: new Set<string>() };
  return {
    scan: (text) => {
      const out = [...base.scan(text)];
      for (let at = text.indexOf(canary); at >= 0; at = text.indexOf(canary, at + 1))
        out.push({ type: CANARY_TYPE, start: at, end: at + canary.length, score: 1, recognizer: 'canary' });
      return out;
    },
    redact: base.redact,
    block: new Set([...base.block, CANARY_TYPE]),
  };
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
