export * from './errors.js';
export type * from './api.js';
export type * from './audit.js';
export type * from './context.js';
export type * from './stages.js';
export type * from './upstream.js';
