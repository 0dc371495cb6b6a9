/** AI and ML providers: OpenAI, Anthropic, Hugging Face, Perplexity, Groq, Replicate, … */
import type { SecretRule } from '../types.js';
import { mixedCase, pattern } from './build.js';

export const AI_RULES: readonly SecretRule[] = [
  pattern(
    'openai-api-key',
    'ai',
    'OpenAI API key (sk-…T3BlbkFJ…, sk-proj-/sk-svcacct-/sk-admin-)',
    ['sk-'],
    /\bsk-[A-Za-z0-9_-]{20,250}/,
    { delimited: true, validate: (v) => v.includes('T3BlbkFJ') || (v.length >= 100 && mixedCase(v)) },
  ),
  pattern(
    'anthropic-api-key',
    'ai',
    'Anthropic API / admin key',
    ['sk-ant-'],
    /\bsk-ant-(?:api|admin)\d\d-[\w-]{80,100}AA(?![\w-])/,
  ),
  pattern('huggingface-access-token', 'ai', 'Hugging Face user token (hf_)', ['hf_'], /\bhf_[A-Za-z]{34}\b/, {
    minEntropy: 3,
  }),
  pattern(
    'huggingface-org-token',
    'ai',
    'Hugging Face organization token (api_org_)',
    ['api_org_'],
    /\bapi_org_[A-Za-z]{34}\b/,
    { minEntropy: 3 },
  ),
  pattern('perplexity-api-key', 'ai', 'Perplexity API key', ['pplx-'], /\bpplx-[A-Za-z0-9]{48}\b/),
  pattern('groq-api-key', 'ai', 'Groq API key', ['gsk_'], /\bgsk_[A-Za-z0-9]{52}\b/),
  pattern('replicate-api-token', 'ai', 'Replicate API token', ['r8_'], /\br8_[A-Za-z0-9]{37}\b/),
  pattern('xai-api-key', 'ai', 'xAI API key', ['xai-'], /\bxai-[A-Za-z0-9]{80}\b/),
];
