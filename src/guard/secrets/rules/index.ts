/** Every built-in rule, grouped by family. */
import type { SecretRule } from '../types.js';
import { AI_RULES } from './ai.js';
import { CHAT_RULES } from './chat.js';
import { CLOUD_RULES } from './cloud.js';
import { CONNECTION_RULES } from './connection.js';
import { GENERIC_RULES } from './generic.js';
import { JWT_RULES } from './jwt.js';
import { KEY_RULES } from './keys.js';
import { PAYMENT_RULES } from './payment.js';
import { SAAS_RULES } from './saas.js';
import { VCS_CI_RULES } from './vcs-ci.js';

export const ALL_RULES: readonly SecretRule[] = [
  ...CLOUD_RULES,
  ...VCS_CI_RULES,
  ...CHAT_RULES,
  ...PAYMENT_RULES,
  ...AI_RULES,
  ...SAAS_RULES,
  ...KEY_RULES,
  ...JWT_RULES,
  ...CONNECTION_RULES,
  ...GENERIC_RULES,
];
