import type { TransformStage } from '../core/index.js';

/**
 * The transform stage. With no obligations to apply yet it forwards the request unchanged and
 * records no transformation.
 */
export function createTransformer(): TransformStage {
  return async (ctx) => ({ request: ctx.request, transformations: [] });
}
