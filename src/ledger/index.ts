export { createAuditRecorder } from './audit-recorder.js';
