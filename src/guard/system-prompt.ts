import type { ModelRequest, Transformation } from '../core/index.js';

/** A verified template and what happens to the client's own system and developer messages. */
export interface SystemPromptChoice {
  readonly template: { readonly name: string; readonly text: string; readonly sha256: string };
  readonly clientSystem: 'drop' | 'keep';
}

/** The signed template a model injects; undefined when the model has none. */
export type SystemPromptFor = (modelId: string) => SystemPromptChoice | undefined;

const isInstruction = (role: string): boolean => role === 'system' || role === 'developer';

/**
 * Puts the template first in a chat request, as a system message; with `clientSystem: drop`
 * the client's system and developer messages are removed. The transformation names the
 * template and its digest, so the audit entry shows which signed text the model received.
 */
export function injectSystemPrompt(
  request: ModelRequest,
  choice: SystemPromptChoice,
): { request: ModelRequest; transformations: Transformation[] } {
  if (request.route !== 'chat.completions') return { request, transformations: [] };
  const kept =
    choice.clientSystem === 'drop'
      ? request.body.messages.filter((m) => !isInstruction(m.role))
      : request.body.messages;
  const dropped = request.body.messages.length - kept.length;
  const messages = [{ role: 'system', content: choice.template.text }, ...kept];
  const { name, sha256 } = choice.template;
  return {
    request: { route: 'chat.completions', body: { ...request.body, messages } },
    transformations: [
      { stage: 'transform', kind: `system_prompt:${name}@sha256:${sha256}`, count: 1 },
      ...(dropped > 0
        ? [{ stage: 'transform' as const, kind: 'client_system_dropped', count: dropped }]
        : []),
    ],
  };
}
