import { OutputBlockedError, type Finding, type TextRestorer } from '../core/index.js';
import type { AnswerPolicy } from './answer-text.js';

/** A span is settled once the answer has gone on this far past its end. */
const SETTLE_CHARS = 32;
/** A private-key block is held until its END line, up to this size. */
const KEY_BLOCK_LIMIT = 16 * 1024;
const KEY_BEGIN = '-----BEGIN';
/** A whitespace-free run is held until it ends, up to this length. */
const TOKEN_LIMIT = 8 * 1024;

/** Where the text's last whitespace-free run starts: a token (a key, a JWT) may still be growing. */
function trailingTokenStart(text: string): number {
  let i = text.length;
  while (i > 0 && text.length - i < TOKEN_LIMIT && !/\s/.test(text[i - 1] as string)) i--;
  return i;
}

/** The block opened at `begin` has its whole `-----END …-----` line. */
function keyBlockClosed(text: string, begin: number): boolean {
  const end = text.indexOf('-----END', begin + KEY_BEGIN.length);
  return end >= 0 && text.indexOf('-----', end + 8) >= 0;
}

/**
 * The hold-back window of one streamed answer choice. Text reaches the client only once it is
 * `holdBack` characters behind the newest text, and never inside the trailing whitespace-free
 * run (a key or token may still be growing; up to 8 KB), a span a detector is still reading, or
 * an unterminated key block, so nothing the scanner would redact or block is released first
 * (`holdBack` 0 turns the window off: each delta is scanned on its own); at the end everything left is checked and released. Released text then has
 * the transform stage's placeholders restored (where `reveal` allows).
 */
export class AnswerWindow {
  #pending = '';
  #findings: Finding[] = [];
  #redacted = 0;
  readonly #restore: ReturnType<TextRestorer['stream']> | undefined;

  constructor(
    private readonly policy: AnswerPolicy,
    private readonly holdBack: number,
    private readonly slot: number,
    restorer: TextRestorer | undefined,
  ) {
    this.#restore = restorer?.stream();
  }

  push(delta: string): string {
    this.#pending += delta;
    return this.#release(false);
  }

  end(): string {
    return this.#release(true) + (this.#restore?.end() ?? '');
  }

  get findings(): readonly Finding[] {
    return this.#findings;
  }
  get redacted(): number {
    return this.#redacted;
  }
  get restored(): number {
    return this.#restore?.restored() ?? 0;
  }

  #release(final: boolean): string {
    const text = this.#pending;
    if (text === '') return '';
    const detections = [...this.policy.scan(text)].sort((a, b) => a.start - b.start || b.end - a.end);
    let cut = final ? text.length : Math.max(0, text.length - this.holdBack);
    if (!final && this.holdBack > 0) cut = Math.min(cut, trailingTokenStart(text));
    if (!final) {
      const begin = text.indexOf(KEY_BEGIN);
      if (begin >= 0 && !keyBlockClosed(text, begin) && text.length - begin < KEY_BLOCK_LIMIT)
        cut = Math.min(cut, begin);
      for (const d of detections)
        if (text.length - d.end < SETTLE_CHARS && d.start < cut) cut = Math.min(cut, d.start);
    }
    // Settled detections that start before the cut are released whole.
    for (const d of detections) if (d.start < cut && d.end > cut) cut = d.end;
    let out = '';
    let at = 0;
    let lastEnd = -1;
    for (const d of detections) {
      if (d.start >= cut) break;
      this.#findings.push({
        detector: `output:${d.recognizer}`,
        type: d.type,
        score: d.score,
        location: { message: this.slot, start: d.start, end: d.end },
      });
      if (this.policy.block.has(d.type))
        throw new OutputBlockedError({ logDetail: `answer contained ${d.type}`, blocked: [d.type] });
      if (!this.policy.redact.has(d.type) || d.start < lastEnd) continue;
      out += text.slice(at, d.start) + `[${d.type}]`;
      at = d.end;
      lastEnd = d.end;
      this.#redacted++;
    }
    out += text.slice(at, cut);
    this.#pending = text.slice(cut);
    return this.#restore ? this.#restore.push(out) : out;
  }
}
