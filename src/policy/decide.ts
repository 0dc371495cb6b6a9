import type { DecideStage, Decision } from '../core/index.js';

const BUNDLE = 'builtin:allow-authenticated@1';

const ALLOW: Decision = Object.freeze({
  effect: 'allow',
  determiningPolicies: Object.freeze(['builtin:allow-authenticated']),
  obligations: Object.freeze([]),
  errors: Object.freeze([]),
  bundleDigest: BUNDLE,
});

/**
 * The decide stage before the Cedar engine lands: deny by default, allow a request only when
 * the authenticate stage produced a principal. The effect is returned as data; the pipeline
 * enforces it.
 */
export function createDecider(): DecideStage {
  return async (ctx) => {
    if (ctx.principal) return ALLOW;
    return {
      effect: 'deny',
      determiningPolicies: ['builtin:default-deny'],
      obligations: [],
      errors: [],
      bundleDigest: BUNDLE,
    };
  };
}
