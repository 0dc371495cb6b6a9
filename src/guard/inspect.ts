import { createHash } from 'node:crypto';
import type { Finding, InspectStage } from '../core/index.js';
import { classify, labelsOf, type ClassRule } from './classify.js';
import type { Detectors } from './registry.js';
import { slotRoles, textSlots } from './text-slots.js';
import type { DataClass, Detection, InjectionVerdict } from './types.js';

export interface InspectorOptions {
  readonly detectors: Detectors;
  /** The class of a request nothing raises (`policy.dataClass`). */
  readonly baseClass: DataClass;
  readonly rules: readonly ClassRule[];
  readonly labels: boolean;
  /** Texts whose results are remembered (default 4096; 0: none, every text is scanned). */
  readonly cacheEntries?: number;
}

/**
 * Results per text, by SHA-256: a chat client sends the whole conversation on every turn, so
 * without this each earlier message is scanned again on every later turn. Holds types and
 * offsets only, never text; bounded (least recently used goes first).
 */
class ScanCache {
  readonly #entries = new Map<string, { detections: Detection[]; verdict: InjectionVerdict | undefined }>();
  constructor(private readonly limit: number) {}

  get(key: string) {
    const hit = this.#entries.get(key);
    if (hit) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: { detections: Detection[]; verdict: InjectionVerdict | undefined }): void {
    this.#entries.set(key, value);
    if (this.#entries.size > this.limit) this.#entries.delete(this.#entries.keys().next().value as string);
  }
}

const CACHE_ENTRIES = 4096;
const CACHE_MAX_TEXT = 64 * 1024;

/** Roles whose text may carry an injection: what users, tools and retrieved context supply. */
const UNTRUSTED_ROLES = new Set(['user', 'tool', 'function', 'input']);

/**
 * The inspect stage: runs every configured recognizer over every text slot of the request (the
 * whole conversation: the model sees all of it), scores the text users and tools supplied for
 * prompt injection, and classifies the request. Findings carry type, score and location only,
 * never the text. It never changes the request.
 */
export function createInspector(options?: InspectorOptions): InspectStage {
  if (!options) return async () => ({ findings: [] });
  const { detectors } = options;
  const cacheEntries = options.cacheEntries ?? CACHE_ENTRIES;
  const cache = new ScanCache(cacheEntries);
  const scanOnce = (text: string, untrusted: boolean) => {
    const key =
      cacheEntries > 0 && text.length <= CACHE_MAX_TEXT
        ? `${untrusted ? 'u' : 't'}${createHash('sha256').update(text).digest('base64')}`
        : undefined;
    const hit = key ? cache.get(key) : undefined;
    if (hit) return hit;
    const result = {
      detections: detectors.scan(text),
      verdict: untrusted && detectors.injection ? detectors.injection.score(text) : undefined,
    };
    if (key) cache.set(key, result);
    return result;
  };
  return async (ctx) => {
    const texts = textSlots(ctx.request);
    const roles = slotRoles(ctx.request);
    const findings: Finding[] = [];
    texts.forEach((text, message) => {
      const { detections, verdict } = scanOnce(text, UNTRUSTED_ROLES.has(roles[message] ?? ''));
      for (const d of detections)
        findings.push({
          detector: d.recognizer,
          type: d.type,
          score: d.score,
          location: { message, start: d.start, end: d.end },
        });
      if (verdict?.flagged)
        findings.push({
          detector: 'injection',
          type: 'PROMPT_INJECTION',
          score: verdict.score,
          location: { message, start: 0, end: text.length },
        });
    });
    const labels = options.labels ? labelsOf(ctx.request) : [];
    return { findings, dataClass: classify(options.baseClass, findings, options.rules, labels) };
  };
}
