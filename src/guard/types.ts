/**
 * The data guard's contracts. Every detector is pure, synchronous and runs in time linear in
 * its input; none keeps the text it saw. Offsets are UTF-16 code-unit indices into the string
 * that was scanned (JavaScript string indices); interfaces that promise code points (the
 * `ztgate guard scan` output) convert at the edge.
 */

/** One span a recognizer found. Never carries the matched value. */
export interface Detection {
  /** Presidio entity type (`EMAIL_ADDRESS`, `PERSON`, …), or `SECRET` for secrets. */
  readonly type: string;
  readonly start: number;
  readonly end: number;
  /** Confidence 0..1 (context words raise it; validation failures drop the span). */
  readonly score: number;
  /** The recognizer (`email`, `credit_card`, `ner`, `custom:<name>`, `secret`). */
  readonly recognizer: string;
  /** Secrets: the rule id (e.g. `aws-access-key-id`); PII: absent. */
  readonly rule?: string;
}

/** Finds spans of one or more entity types. */
export interface Recognizer {
  readonly name: string;
  /** The entity types it can emit. */
  readonly types: readonly string[];
  detect(text: string): Detection[];
}

/** A prompt-injection / jailbreak verdict. */
export interface InjectionVerdict {
  /** 0..1: the probability-like score of the layered detector. */
  readonly score: number;
  /** score ≥ the configured threshold. */
  readonly flagged: boolean;
  /** Names of the heuristic signals that fired (for logs and audit; never text). */
  readonly signals: readonly string[];
}

export interface InjectionDetector {
  readonly name: string;
  score(text: string): InjectionVerdict;
}

/** Data classes, least to most sensitive. */
export const DATA_CLASSES = ['public', 'internal', 'confidential', 'restricted'] as const;
export type DataClass = (typeof DATA_CLASSES)[number];
