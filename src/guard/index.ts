export { createInspector } from './inspect.js';
export { createTransformer, TRANSFORM_OBLIGATIONS } from './transform.js';
export { createOutputScanner } from './output-scan.js';
export { openPseudonymKeys } from './pseudonym-keys.js';
