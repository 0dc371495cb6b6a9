import type { ChatCompletionChunk, OutputScanStage, StreamScanner } from '../core/index.js';

/**
 * The scan-output stage. No output detector is installed yet, so answers pass unchanged and
 * stream chunks are released as they come (no hold-back window is needed without detectors).
 */
export function createOutputScanner(): OutputScanStage {
  return {
    async scan(_ctx, response) {
      return { response, findings: [], transformations: [] };
    },
    openStream(): StreamScanner {
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
    },
  };
}
