import { z } from 'zod';
import { secretRef } from './schema-primitives.js';

/**
 * `prompts` (docs/RUNTIME-TRUST.md, "Signed system prompts"): a directory of system-prompt
 * templates signed with `ztgate model sign DIR`. The gateway verifies it at start and on every
 * change, and injects a template only from the verified copy it holds.
 */
export const prompts = z
  .strictObject({
    /** The templates directory (relative to home); templates are its .txt, .md and .prompt files. */
    dir: z.string().min(1),
    /** The signature file; default `<dir>/model.sig` (what `ztgate model sign` writes). */
    signature: z.string().min(1).optional(),
    /** The signer's public key (PEM), pinned. */
    publicKey: secretRef.optional(),
    /** Or the signer's certificate chain root (and intermediates), PEM. */
    certificateChain: z.array(secretRef).min(1).max(8).optional(),
    /** Re-verify when a file in the directory changes (the last verified set stays in force if the new one does not verify). */
    watch: z.boolean().default(true),
  })
  .superRefine((p, ctx) => {
    if ((p.publicKey === undefined) === (p.certificateChain === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['publicKey'],
        message: 'set exactly one of publicKey and certificateChain (who may sign the templates)',
      });
  });

/**
 * `models[].systemPrompt`: the signed template the gateway puts first in every chat request to the
 * model. A string is the template's name. `clientSystem: drop` (the default) removes the client's
 * own system and developer messages, so the signed template is the only instruction of that rank.
 */
export const systemPrompt = z.union([
  z
    .string()
    .min(1)
    .max(256)
    .transform((template) => ({ template, clientSystem: 'drop' as 'drop' | 'keep' })),
  z.strictObject({
    template: z.string().min(1).max(256),
    clientSystem: z.enum(['drop', 'keep']).default('drop'),
  }),
]);

export type PromptsConfig = z.infer<typeof prompts>;
