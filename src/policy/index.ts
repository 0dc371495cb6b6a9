export { createDecider } from './decide.js';
