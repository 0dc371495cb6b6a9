export { createInspector } from './inspect.js';
export { createTransformer } from './transform.js';
export { createOutputScanner } from './output-scan.js';
