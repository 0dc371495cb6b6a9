/**
 * Cheap gates for the pattern signals (heuristics.ts): a signal's expression runs on a window
 * only when the window holds the words (and literal strings) that every match of it must
 * contain. The words are found while the window is hashed (features.ts), so most signals cost
 * nothing on ordinary text. A gate may pass when its signal does not match (the expression then
 * decides); it must never fail when the signal matches.
 *
 * Soundness: a gate word stands for a word of a pattern with a word boundary or a character
 * outside `[a-z0-9]` (a literal space, quote, bracket, `-`, `:`…) on both sides in the pattern, so
 * in any match it is a whole *segment*: a maximal run of `[a-z0-9]` in the window. The hasher's
 * words are runs of `[a-z0-9']`, so a word without an apostrophe is one segment, and the
 * segments of the others are found around each apostrophe ({@link markApostropheSegments}).
 * Each signal lists, for each alternative of its patterns, groups that must all be present
 * (any word of a group will do) and literal strings the window must contain. Keep this table in
 * step with PATTERN_SIGNALS.
 */
import { PATTERN_SIGNALS, type PatternSignal } from './heuristics.js';

/** One alternative: every group of words must have a word present, every literal must occur. */
interface Gate {
  readonly words: readonly string[];
  readonly literals?: readonly (string | RegExp)[];
}

const g = (...words: string[]): Gate => ({ words });
const lit = (...literals: (string | RegExp)[]): Gate => ({ words: [], literals });
const also = (gate: Gate, ...literals: (string | RegExp)[]): Gate => ({ words: gate.words, literals });

/** Groups are space-separated words; each string is one group. */
const SIGNAL_GATES: Readonly<Record<PatternSignal, readonly Gate[]>> = {
  instruction_override: [
    g(
      'ignore disregard forget override bypass discard abandon ignoring disregarding',
      'instruction instructions prompt prompts rules directive directives guidelines programming ' +
        'restrictions command commands training constraints policy policies guidance context',
    ),
    g('ignore disregard forget', 'everything anything what'),
    also(g('new updated real actual override', 'instructions rules task directive system'), ':'),
    g('stop', 'everything'),
  ],
  role_hijack: [
    g(
      'you act acting pretend role roleplay the simulate become',
      'dan stan dude aim mongo unfiltered unrestricted uncensored jailbroken amoral unethical',
    ),
    g('you act acting pretend role roleplay the simulate become', 'ai model chatbot assistant', 'without'),
    also(
      g(
        'you act acting pretend role roleplay the simulate become',
        'ai model chatbot assistant',
        'with',
        'no',
      ),
      'with no',
    ),
    also(
      g(
        'you act acting pretend role roleplay the simulate become',
        'ai model chatbot assistant',
        'that',
        'has',
        'no',
      ),
      'that has no',
    ),
    also(
      g(
        'you act acting pretend role roleplay the simulate become',
        'ai model chatbot assistant',
        'free',
        'from',
      ),
      'free from',
    ),
    g(
      'developer dan god jailbreak jailbroken evil unrestricted unfiltered uncensored sudo admin debug ' +
        'opposite dev',
      'mode',
    ),
    g('anything', 'now'),
    g('from', 'now', 'on'),
    g('jailbreak jailbroken jailbreaking'),
  ],
  prompt_extraction: [
    g(
      'repeat print reveal show output display tell give write spell dump leak list translate encode',
      'system initial original hidden secret first',
      'prompt message instruction instructions',
    ),
    g('repeat print reveal show output display leak dump what', 'system pre preprompt'),
    g(
      'repeat print reveal show output display dump leak',
      'instructions prompt rules directives configuration',
    ),
    g(
      'repeat print reveal show output display write',
      'text words everything instructions content conversation',
      'above before so',
    ),
    g('what everything', 'told given instructed'),
    g('beginning', 'are'),
  ],
  delimiter_injection: [
    lit('<|'),
    lit('>', 's>'),
    lit(']', 'inst]'),
    also(g('system'), /system ?: /),
    also(g('assistant'), /assistant ?: /),
    also(g('sys'), /sys ?: /),
    lit('###'),
    also(g('system admin developer sys'), '['),
    g('end', 'of', 'prompt instructions'),
  ],
  refusal_suppression: [
    g('never not cannot'),
    g('don mustn won can shouldn', 't'),
    g('restrictions filter filters censorship limitations guidelines boundaries constraints'),
    g('policy policies', 'openai anthropic content usage'),
    g('care have', 'doesn does don do'),
  ],
  response_priming: [g('start begin prefix open'), g('sure', 'here')],
  dual_response: [
    lit('['),
    g('two 2', 'ways responses answers paragraphs personalities'),
    g('stay remain staying', 'character role'),
    g('break breaking', 'character'),
  ],
  fiction_framing: [g('hypothetical hypothetically fictional'), g('purposes'), g('thought', 'experiment')],
};

const WORD_SEED = 0x01000193 ^ 0x5bd1e995;
const FNV_PRIME = 0x01000193;

/** The hasher's word hash (features.ts) of `word`, as an unsigned 32-bit integer. */
function wordHash(word: string): number {
  let w = WORD_SEED;
  for (let i = 0; i < word.length; i++) w = Math.imul(w ^ word.charCodeAt(i), FNV_PRIME);
  return w >>> 0;
}

/** Gate words by hash, each with an id (words sharing a hash share an id: the gate only widens). */
const WORD_IDS = new Map<number, number>();
/** A 4,096-slot filter on the low hash bits: most words miss it and skip the map lookup. */
export const GATE_FILTER = new Uint8Array(4096);
const idOf = (word: string): number => {
  if (!/^[a-z0-9]+$/.test(word)) throw new Error(`gate word must be [a-z0-9]+: ${word}`);
  const h = wordHash(word);
  let id = WORD_IDS.get(h);
  if (id === undefined) {
    id = WORD_IDS.size;
    WORD_IDS.set(h, id);
    GATE_FILTER[h & 4095] = 1;
  }
  return id;
};

/** Per signal (PATTERN_SIGNALS order), per alternative: its groups of word ids and its literals. */
const COMPILED: readonly (readonly { groups: Int32Array[]; literals: readonly RegExp[] }[])[] = (
  Object.keys(PATTERN_SIGNALS) as PatternSignal[]
).map((signal) =>
  SIGNAL_GATES[signal].map((gate) => ({
    groups: gate.words.map((group) => Int32Array.from(group.split(' '), idOf)),
    literals: (gate.literals ?? []).map((l) =>
      typeof l === 'string' ? new RegExp(l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : l,
    ),
  })),
);

/** Which gate words the window being hashed holds (one byte per id; single-threaded, reused). */
const present = new Uint8Array(WORD_IDS.size);

/** Starts a window: no gate word seen. */
export function resetGateWords(): void {
  present.fill(0);
}

/** Records a word hash (unsigned) the hasher saw; call only when {@link GATE_FILTER} has its slot. */
export function markGateWord(hash: number): void {
  const id = WORD_IDS.get(hash);
  if (id !== undefined) present[id] = 1;
}

const isAlnum = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 48 && c <= 57);

/** Hashes text[start, end) as a word and records it. */
function markRange(text: string, start: number, end: number): void {
  if (start >= end) return;
  let w = WORD_SEED;
  for (let i = start; i < end; i++) w = Math.imul(w ^ text.charCodeAt(i), FNV_PRIME);
  w >>>= 0;
  if (GATE_FILTER[w & 4095] === 1) markGateWord(w);
}

/**
 * Records the `[a-z0-9]` segments next to each apostrophe (the hasher's words that hold one
 * are several segments; the segments of every other word are whole words, recorded as hashed).
 */
export function markApostropheSegments(text: string): void {
  for (let q = text.indexOf("'"); q >= 0; q = text.indexOf("'", q + 1)) {
    let s = q;
    while (s > 0 && isAlnum(text.charCodeAt(s - 1))) s--;
    markRange(text, s, q);
    let e = q + 1;
    while (e < text.length && isAlnum(text.charCodeAt(e))) e++;
    markRange(text, q + 1, e);
  }
}

/** Whether pattern signal `i` may match `window`, given the gate words recorded for it. */
export function gateOpen(i: number, window: string): boolean {
  const alternatives = COMPILED[i] ?? [];
  for (const { groups, literals } of alternatives) {
    let ok = true;
    for (let k = 0; ok && k < groups.length; k++) {
      const group = groups[k] as Int32Array;
      ok = false;
      for (let j = 0; j < group.length; j++) {
        if (present[group[j] as number] === 1) {
          ok = true;
          break;
        }
      }
    }
    for (let k = 0; ok && k < literals.length; k++) ok = (literals[k] as RegExp).test(window);
    if (ok) return true;
  }
  return false;
}
