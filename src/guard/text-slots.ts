import type { ChatContentPart, ChatMessage, ModelRequest } from '../core/index.js';

/**
 * The texts of a request that detectors read and the transform stage may rewrite, in request
 * order: each message's content (a string, or each text part), each tool call's arguments in
 * an assistant message, and each embedding input string. A finding's `location.message` is the
 * index into this list.
 */
export function textSlots(request: ModelRequest): string[] {
  const out: string[] = [];
  if (request.route === 'embeddings') {
    const input = request.body.input;
    if (typeof input === 'string') out.push(input);
    else if (Array.isArray(input)) for (const x of input) if (typeof x === 'string') out.push(x);
    return out;
  }
  for (const m of request.body.messages) {
    if (typeof m.content === 'string') out.push(m.content);
    else if (Array.isArray(m.content))
      for (const part of m.content as readonly ChatContentPart[])
        if (typeof part.text === 'string') out.push(part.text);
    for (const call of toolCallsOf(m)) out.push(call.function.arguments);
  }
  return out;
}

/** The role of each text slot's message (`input` for embedding inputs), same order as textSlots. */
export function slotRoles(request: ModelRequest): string[] {
  if (request.route === 'embeddings') return textSlots(request).map(() => 'input');
  const out: string[] = [];
  for (const m of request.body.messages) {
    if (typeof m.content === 'string') out.push(m.role);
    else if (Array.isArray(m.content))
      for (const part of m.content as readonly ChatContentPart[])
        if (typeof part.text === 'string') out.push(m.role);
    for (const _call of toolCallsOf(m)) out.push(m.role);
  }
  return out;
}

interface ToolCall {
  readonly function: { readonly name?: unknown; readonly arguments: string };
  readonly [key: string]: unknown;
}

function toolCallsOf(m: ChatMessage): ToolCall[] {
  const calls = m.tool_calls;
  if (!Array.isArray(calls)) return [];
  return calls.filter(
    (c): c is ToolCall =>
      typeof c === 'object' &&
      c !== null &&
      typeof (c as ToolCall).function === 'object' &&
      (c as ToolCall).function !== null &&
      typeof (c as ToolCall).function.arguments === 'string',
  );
}

/** The same request with each slot's text replaced by `texts[i]` (same order as textSlots). */
export function withTextSlots(request: ModelRequest, texts: readonly string[]): ModelRequest {
  let i = 0;
  const next = (): string => {
    const t = texts[i++];
    if (t === undefined) throw new Error('text slot count mismatch');
    return t;
  };
  if (request.route === 'embeddings') {
    const input = request.body.input;
    const replaced =
      typeof input === 'string'
        ? next()
        : Array.isArray(input)
          ? (input as readonly unknown[]).map((x) => (typeof x === 'string' ? next() : x))
          : input;
    return { route: 'embeddings', body: { ...request.body, input: replaced as typeof input } };
  }
  const messages = request.body.messages.map((m): ChatMessage => {
    let content = m.content;
    if (typeof content === 'string') content = next();
    else if (Array.isArray(content))
      content = (content as readonly ChatContentPart[]).map((part) =>
        typeof part.text === 'string' ? { ...part, text: next() } : part,
      );
    const calls = m.tool_calls;
    const rewritten = Array.isArray(calls)
      ? calls.map((c: unknown) =>
          toolCallsOf({ role: '', tool_calls: [c] }).length
            ? { ...(c as ToolCall), function: { ...(c as ToolCall).function, arguments: next() } }
            : c,
        )
      : calls;
    return { ...m, content, ...(Array.isArray(calls) ? { tool_calls: rewritten } : {}) };
  });
  if (i !== texts.length) throw new Error('text slot count mismatch');
  return { route: 'chat.completions', body: { ...request.body, messages } };
}
