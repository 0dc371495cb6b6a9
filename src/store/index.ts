export type * from './types.js';
export { createStore } from './create-store.js';
export type { StoreOptions } from './create-store.js';
export { createBus } from './create-bus.js';
export type { BusOptions } from './create-bus.js';
export {
  MAX_CONTROL_RECORD_BODY_BYTES,
  MAX_CONTROL_RECORD_SUBJECT_LENGTH,
} from './control-records-checks.js';
