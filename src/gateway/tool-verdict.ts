import type { Decision, RequestContext } from '../core/index.js';
import type { ToolVerdict } from '../guard/tool-calls.js';

/**
 * A tool call's verdict from policy's `invoke_tool` decision: an allow carrying
 * `require_approval`, or one for a principal under approval (a playbook's `require_approval`
 * action), is held for a person to decide; anything but an allow is refused.
 */
export function toolVerdictOf(
  decision: Pick<Decision, 'effect' | 'obligations'>,
  ctx: Readonly<RequestContext>,
  underApproval: (ctx: Readonly<RequestContext>) => boolean = () => false,
): ToolVerdict {
  if (decision.effect !== 'allow') return 'deny';
  if (decision.obligations.some((o) => o.kind === 'require_approval') || underApproval(ctx)) return 'hold';
  return 'allow';
}
