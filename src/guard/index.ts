export { createInspector } from './inspect.js';
export { createDetectors, type Detectors } from './registry.js';
export { BUILTIN_CLASS_RULES, classify } from './classify.js';
export { createTransformer, TRANSFORM_OBLIGATIONS } from './transform.js';
export { createOutputScanner } from './output-scan.js';
export { openPseudonymKeys } from './pseudonym-keys.js';
export { busConversationStore, type ConversationStore } from './conversations.js';
