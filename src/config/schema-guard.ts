import { z } from 'zod';
import { duration } from './schema-primitives.js';

/** The `guard` section: detectors, classification and output scanning (docs/GUARD.md). */

const entityType = z.string().regex(/^[A-Z][A-Z0-9_]{0,40}$/, 'must be an entity type like EMAIL_ADDRESS');
const dataClass = z.enum(['public', 'internal', 'confidential', 'restricted']);
const ruleName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be a name: a-z, 0-9, _ and -');

const customPattern = z.strictObject({
  name: ruleName,
  /** The entity type it reports (a custom one such as PROJECT_CODE, or a Presidio one). */
  type: entityType,
  /** An RE2 regular expression (linear time; no look-around or back-references). */
  regex: z.string().min(1).max(2000),
  score: z.number().min(0).max(1).default(0.8),
  /** Words before the match that raise the score. */
  context: z.array(z.string().min(1).max(64)).max(64).default([]),
});

const dictionary = z.strictObject({
  name: ruleName,
  type: entityType,
  /** Terms matched on word boundaries (project code names, customer names, …). */
  terms: z.array(z.string().min(1).max(200)).max(100_000),
  caseSensitive: z.boolean().default(false),
  score: z.number().min(0).max(1).default(0.9),
});

const classRule = z.strictObject({
  /** The class a request gets when the rule matches (the highest class of all rules wins). */
  class: dataClass,
  /** Entity types whose findings give this class. */
  types: z.array(entityType).max(200).default([]),
});

export const guard = z
  .strictObject({
    /** PII recognizers with validation (e-mail, phone, cards, IBAN, SSN, IP, URL, crypto, dates, national ids). */
    pii: z.boolean().default(true),
    /** Names, locations and organisations. */
    names: z.boolean().default(true),
    secrets: z.boolean().default(true),
    injection: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** Flag at this score (0..1); unset: the model's calibrated threshold (MODEL-CARD.md). */
        threshold: z.number().gt(0).lt(1).optional(),
      })
      .prefault({}),
    /** Findings below this score are ignored. */
    minScore: z.number().min(0).max(1).default(0.5),
    custom: z
      .strictObject({
        patterns: z.array(customPattern).max(200).default([]),
        dictionaries: z.array(dictionary).max(50).default([]),
      })
      .prefault({}),
    classification: z
      .strictObject({
        /** Rules from findings to classes, added to the built-in ones (docs/GUARD.md). */
        rules: z.array(classRule).max(100).default([]),
        /** Honour a `data_class` label on a message (it can raise the class, never lower it). */
        labels: z.boolean().default(true),
      })
      .prefault({}),
    pseudonyms: z
      .strictObject({
        /**
         * Keep a named conversation's pseudonyms (header X-Ztgate-Conversation) this long after
         * its last turn, encrypted on the StateBus; unset: per request only.
         */
        conversationTtl: duration.optional(),
      })
      .prefault({}),
    output: z
      .strictObject({
        /** Characters of a streamed answer held back so that nothing to redact or block is released first. */
        holdBackChars: z.number().int().min(0).max(65_536).default(64),
        /** Types replaced by `[TYPE]` in answers. */
        redact: z
          .array(entityType)
          .default(['SECRET', 'CREDIT_CARD', 'US_SSN', 'IBAN_CODE', 'US_BANK_NUMBER', 'CRYPTO']),
        /** Plant a random canary in each request's system prompt; an answer repeating it is withheld. */
        canary: z.boolean().default(true),
        /** Types that withhold the whole answer (`output_blocked`). */
        block: z.array(entityType).default(['SYSTEM_PROMPT_CANARY']),
      })
      .prefault({}),
  })
  .prefault({});
