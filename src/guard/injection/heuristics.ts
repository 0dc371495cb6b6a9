/**
 * Named heuristic signals for prompt injection and jailbreaks. Each runs on text already passed
 * through `normalizeForDetection` (lower-case, one space between words, homoglyphs folded) and
 * is linear in its input: the patterns below have no nested or overlapping repetition (every
 * one is checked by `recheck` in the unit tests). A signal is evidence, not a verdict: the
 * classifier weighs them together with the n-gram features.
 */

/** Up to N further words between two key phrases (words are single-space separated). */
const gap = (n: number): string => `(?: [\\w'-]+){0,${n}}`;

const re = (source: string): RegExp => new RegExp(source);

/**
 * Signals decided by the text's patterns. The detector runs a signal only when its gate in
 * gates.ts is open: a pattern added or changed here needs its gate words checked there.
 */
export const PATTERN_SIGNALS = {
  /** "ignore all previous instructions", "forget everything you were told". */
  instruction_override: [
    re(
      `\\b(?:ignore|disregard|forget|override|bypass|discard|abandon|ignoring|disregarding)${gap(3)} ` +
        `(?:previous|prior|above|preceding|earlier|initial|original|all|any|your|the|these|those|my|following)` +
        `${gap(3)} (?:instructions?|prompts?|rules|directives?|guidelines|programming|restrictions|commands?|` +
        `training|constraints|polic(?:y|ies)|guidance|context)\\b`,
    ),
    re(
      `\\b(?:ignore|disregard|forget)(?: all| about)? (?:everything|anything|what) ` +
        `(?:you (?:were|have been|had been) (?:told|taught|given)|you (?:learned|know)|above|before|prior)\\b`,
    ),
    re(`\\b(?:new|updated|real|actual|override) (?:instructions|rules|task|directive|system prompt) ?:`),
    re(`\\bstop everything\\b`),
  ],
  /** "you are now DAN", "developer mode enabled", "do anything now". */
  role_hijack: [
    re(
      `\\b(?:you are|you're|you will be|act as|acting as|pretend (?:to be|you are)|role-?play as|` +
        `the role of|simulate|become)${gap(4)} (?:dan|stan|dude|aim|mongo tom|an? (?:ai|model|chatbot|assistant) ` +
        `(?:without|with no|that has no|free from)|unfiltered|unrestricted|uncensored|jailbroken|amoral|unethical)\\b`,
    ),
    re(
      `\\b(?:developer|dan|god|jailbreak|jailbroken|evil|unrestricted|unfiltered|uncensored|sudo|admin|debug|` +
        `opposite|dev) mode\\b`,
    ),
    re(`\\bdo anything now\\b`),
    re(`\\bfrom now on,? (?:you|your|act|pretend|respond|reply|answer)\\b`),
    re(`\\b(?:jailbreak|jailbroken|jailbreaking)\\b`),
  ],
  /** "repeat the text above", "print your instructions", "what is your system prompt". */
  prompt_extraction: [
    re(
      `\\b(?:repeat|print|reveal|show|output|display|tell|give|write|spell|dump|leak|list|translate|encode)` +
        `${gap(4)} (?:your|the) (?:system|initial|original|hidden|secret|first) (?:prompt|message|instructions?)\\b`,
    ),
    re(
      `\\b(?:repeat|print|reveal|show|output|display|leak|dump|what (?:is|are|was|were))${gap(2)} (?:system prompt|pre-?prompt|system configuration)\\b`,
    ),
    re(
      `\\b(?:repeat|print|reveal|show|output|display|dump|leak)${gap(3)} (?:your|the) (?:instructions|prompt|rules|directives|configuration)\\b`,
    ),
    re(
      `\\b(?:repeat|print|reveal|show|output|display|write)${gap(3)} (?:text|words|everything|instructions|content|conversation) (?:above|before|so far)\\b`,
    ),
    re(`\\b(?:what|everything) (?:were you|you were|have you been) (?:told|given|instructed)\\b`),
    re(`\\bbeginning with "?you are\\b`),
  ],
  /** Fake turn boundaries: chat-template tokens, "system:", "### instruction". */
  delimiter_injection: [
    re(`<\\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\\|>`),
    re(`</?s>|\\[/?inst\\]|<</?sys>>`),
    re(`(?:^|[ "'\\]}>])(?:#{2,} ?)?(?:system|assistant|sys) ?: `),
    re(`### ?(?:system|instruction|new instruction|response|end)`),
    re(`\\[(?:system|admin|developer|sys)(?: message| note| override| prompt)?\\]`),
    re(`\\bend of (?:system )?(?:prompt|instructions)\\b`),
  ],
  /** "never refuse", "without any restrictions", "no warnings or disclaimers". */
  refusal_suppression: [
    re(
      `\\b(?:never|don't|do not|must not|mustn't|will not|won't|cannot|can't|shouldn't|should not|not allowed to)` +
        ` (?:ever )?(?:refuse|decline|reject|say (?:no|sorry|that you can't|i'm sorry|i cannot)|apologi[sz]e|` +
        `add (?:any )?(?:warnings?|disclaimers?|notes?)|include (?:any )?(?:warnings?|disclaimers?)|` +
        `mention (?:ethics|morals|morality|legality)|remind me|censor|filter)`,
    ),
    re(
      `\\b(?:no|without|free of|free from|not bound by|break(?:ing)? free of|ignoring|bypass(?:ing)?) ` +
        `(?:any |all |the )?(?:ethical |moral |legal |safety |content )?(?:restrictions|filters?|censorship|` +
        `limitations|guidelines|boundaries|constraints)\\b`,
    ),
    re(`\\b(?:openai|anthropic|content|usage) polic(?:y|ies)\\b`),
    re(
      `\\b(?:doesn't|does not|don't|do not) (?:care|have) (?:about )?(?:any )?(?:morals|morality|ethics|legality)`,
    ),
  ],
  /** "start your response with 'Sure, here is'". */
  response_priming: [
    re(
      `\\b(?:start|begin|prefix|open)${gap(3)} (?:with|by (?:saying|writing|replying)) ?["']?(?:sure|absolutely|of course|certainly|here is|here's)`,
    ),
    re(`\\bsure,? here (?:is|are)\\b`),
  ],
  /** Two-persona answers and "stay in character" enforcement. */
  dual_response: [
    re(`\\[(?:gpt|classic|jailbreak|dan|normal|chatgpt|developer mode output|lock|unlock)[^\\]\\n]{0,24}\\]`),
    re(
      `\\b(?:two|2) (?:different |separate |distinct )*(?:ways|responses|answers|paragraphs|personalities)\\b`,
    ),
    re(`\\b(?:stay|remain|staying) in (?:character|role)\\b`),
    re(`\\bbreak(?:ing)? character\\b`),
  ],
  /** "hypothetically", "in a fictional world", "for educational purposes only". */
  fiction_framing: [
    re(
      `\\b(?:hypothetical(?:ly)?|fictional (?:world|scenario|story|universe|setting)|in a (?:fictional|hypothetical)|` +
        `for (?:purely )?(?:educational|research) purposes|purely fictional|thought experiment)\\b`,
    ),
  ],
} as const satisfies Record<string, readonly RegExp[]>;

export type PatternSignal = keyof typeof PATTERN_SIGNALS;

/** All signal names, in feature order. The last three are computed outside the patterns. */
export const SIGNAL_NAMES = [
  ...(Object.keys(PATTERN_SIGNALS) as PatternSignal[]),
  'adversarial_suffix',
  'encoded_payload',
  'obfuscation',
] as const;

export type SignalName = (typeof SIGNAL_NAMES)[number];

/** Every built-in pattern, for the ReDoS check in the tests. */
export function allPatterns(): RegExp[] {
  return Object.values(PATTERN_SIGNALS).flatMap((list) => [...list]);
}

/** Code punctuation (`{}[]()\\$^_<>|@#%*=;\`~`), by char code. */
export const CODE_PUNCT = new Uint8Array(128);
for (const ch of '{}[]()\\$^_<>|@#%*=;`~') CODE_PUNCT[ch.charCodeAt(0)] = 1;

/**
 * GCG-style optimised suffixes: many short tokens that fuse letters with code punctuation
 * (`$(\\INST]{\\`, `describing.\\ + similarlyNow`). Each token adds its count of such
 * characters (at most 3); fires when the total is at least 6 and a quarter of the token count.
 * One pass over the char codes (tokens are separated by single spaces).
 */
export function hasAdversarialSuffix(normalized: string): boolean {
  let tokens = 0;
  let weight = 0;
  let punct = 0;
  let inToken = false;
  const n = normalized.length;
  for (let i = 0; i < n; i++) {
    const c = normalized.charCodeAt(i);
    if (c === 32) {
      if (inToken) {
        tokens++;
        weight += punct < 3 ? punct : 3;
      }
      inToken = false;
      punct = 0;
      continue;
    }
    inToken = true;
    if (c < 128) punct += CODE_PUNCT[c] as number;
  }
  if (inToken) {
    tokens++;
    weight += punct < 3 ? punct : 3;
  }
  return weight >= 6 && weight >= 0.25 * tokens;
}

/**
 * One RegExp per pattern signal: the alternation of its patterns, so each signal is one scan of
 * the text instead of one per pattern. `combined.test(t)` is true exactly when some pattern of
 * the signal matches `t` (the patterns have no flags, back-references or lookbehind). Linear
 * like its parts (checked by `recheck` in the unit tests too).
 */
const SIGNAL_REGEXPS: readonly RegExp[] = Object.values(PATTERN_SIGNALS).map(
  (list: readonly RegExp[]) => new RegExp(list.map((p) => `(?:${p.source})`).join('|')),
);

/** The per-signal alternations {@link patternSignalMask} runs, for the ReDoS check in the tests. */
export function combinedPatterns(): RegExp[] {
  return [...SIGNAL_REGEXPS];
}

/**
 * The pattern signals that fire on normalised text, as a mask: bit `i` stands for
 * `SIGNAL_NAMES[i]` (the pattern signals come first, in the same order).
 */
export function patternSignalMask(normalized: string): number {
  let mask = 0;
  for (let i = 0; i < SIGNAL_REGEXPS.length; i++) {
    if ((SIGNAL_REGEXPS[i] as RegExp).test(normalized)) mask |= 1 << i;
  }
  return mask;
}

/** The pattern signals that fire on normalised text. */
export function patternSignals(normalized: string): PatternSignal[] {
  const mask = patternSignalMask(normalized);
  return (Object.keys(PATTERN_SIGNALS) as PatternSignal[]).filter((_, i) => (mask & (1 << i)) !== 0);
}
