import type { AttributeValue, Device, ModelAttributes, Principal } from '../core/index.js';

export const NAMESPACE = 'Ztgate';

export const DATA_PLANE_ACTIONS = ['chat', 'embed', 'transcribe', 'invoke_tool'] as const;
export const CONTROL_PLANE_ACTIONS = [
  'view_audit',
  'manage_policy',
  'manage_keys',
  'respond_incident',
  'manage_identity',
  'release_quarantine',
  'approve_tool_call',
] as const;
export const POLICY_ACTIONS = [...DATA_PLANE_ACTIONS, ...CONTROL_PLANE_ACTIONS] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];
export type ResourceType = 'Model' | 'Tool' | 'Gateway';

/** The parts of a core Principal the policy engine reads (a core Principal is assignable). */
export type PolicyPrincipal = Pick<Principal, 'kind' | 'id' | 'roles' | 'groups'> & {
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
};
/** The parts of a core Device the policy engine reads (a core Device is assignable). */
export type PolicyDevice = Pick<Device, 'id' | 'trust' | 'managed' | 'compliant'>;

/** A detector finding as plain data (a core Finding is assignable). */
export interface FindingLike {
  readonly type: string;
  readonly detector?: string;
  readonly score?: number;
}

/** Attributes of a model as the catalogue knows them (the Cedar `Model` entity). */
export type { ModelAttributes };

/** Everything one decision needs, as plain data. */
export interface DecisionInput {
  /** Absent when authentication produced no principal: the decision is a deny. */
  readonly principal?: PolicyPrincipal;
  readonly device?: PolicyDevice;
  readonly action: PolicyAction;
  /** The Model (catalogue id), Tool, or `Gateway` resource the request is about. */
  readonly resource: { readonly type: ResourceType; readonly id: string };
  /** The workspace the request runs in; must exist in the bundle's entities when given. */
  readonly workspace?: string;
  readonly findings: readonly FindingLike[];
  /** Classification of the request's data, e.g. `public`, `internal`, `confidential`. */
  readonly dataClass: string;
  /** Integer 0..100. */
  readonly risk: number;
  readonly networkZone: string;
  readonly residency: string;
  /** hour 0..23 and weekday `mon`..`sun`; see `timeOf`. */
  readonly time: { readonly hour: number; readonly weekday: string };
  /**
   * Control actions that need more than one person: who acts now, who already approved, and who
   * asked for what is being approved (context `actor`, `priorApprovers`, `requestedBy`).
   */
  readonly control?: ControlContext;
}

export interface ControlContext {
  readonly actor: string;
  readonly priorApprovers: readonly string[];
  readonly requestedBy?: string;
}

/** A catalogue of model attributes by model id; looked up before the bundle's own entities. */
export type ModelCatalogue = ReadonlyMap<string, ModelAttributes>;

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** The `time` context from a wall clock (ms since the epoch), in UTC. */
export function timeOf(epochMs: number): { hour: number; weekday: string } {
  const d = new Date(epochMs);
  return { hour: d.getUTCHours(), weekday: WEEKDAYS[d.getUTCDay()] ?? 'sun' };
}
