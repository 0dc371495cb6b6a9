/**
 * JSON schemas (checked by Fastify's compiled validator) for the request bodies ztgate reads.
 * Only the fields the pipeline relies on are constrained; every other OpenAI field passes through.
 */

const nullableInteger = { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'null' }] };

export function chatCompletionSchema(maxMessages: number): object {
  return {
    type: 'object',
    required: ['model', 'messages'],
    properties: {
      model: { type: 'string', minLength: 1, maxLength: 256 },
      messages: {
        type: 'array',
        minItems: 1,
        maxItems: maxMessages,
        items: {
          type: 'object',
          required: ['role'],
          properties: {
            role: { type: 'string', minLength: 1, maxLength: 64 },
            content: {
              anyOf: [
                { type: 'string' },
                { type: 'null' },
                {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['type'],
                    properties: { type: { type: 'string', maxLength: 64 }, text: { type: 'string' } },
                  },
                },
              ],
            },
            name: { type: 'string', maxLength: 256 },
            data_class: { enum: ['public', 'internal', 'confidential', 'restricted'] },
          },
        },
      },
      stream: { type: 'boolean' },
      stream_options: {
        anyOf: [{ type: 'null' }, { type: 'object', properties: { include_usage: { type: 'boolean' } } }],
      },
      max_tokens: nullableInteger,
      max_completion_tokens: nullableInteger,
      n: { anyOf: [{ type: 'integer', minimum: 1, maximum: 16 }, { type: 'null' }] },
    },
  };
}

export function embeddingsSchema(): object {
  return {
    type: 'object',
    required: ['model', 'input'],
    properties: {
      model: { type: 'string', minLength: 1, maxLength: 256 },
      input: {
        anyOf: [
          { type: 'string' },
          { type: 'array', minItems: 1, maxItems: 2048, items: { type: 'string' } },
          { type: 'array', minItems: 1, items: { type: 'integer' } },
          {
            type: 'array',
            minItems: 1,
            maxItems: 2048,
            items: { type: 'array', items: { type: 'integer' } },
          },
        ],
      },
    },
  };
}
