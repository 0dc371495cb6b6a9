import type { InspectStage } from '../core/index.js';

/**
 * The inspect stage. No detector is installed yet (the data-guard issue adds PII, secret and
 * injection detectors to this stage), so it reports no findings; it never changes the request.
 */
export function createInspector(): InspectStage {
  return async () => ({ findings: [] });
}
