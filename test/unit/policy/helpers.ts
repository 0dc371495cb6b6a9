import { compileBundle, type DecisionInput, type PolicyBundle } from '../../../src/policy/index.js';

export const MODELS = JSON.stringify([
  { uid: { type: 'Ztgate::Group', id: 'eng' }, attrs: {}, parents: [{ type: 'Ztgate::Group', id: 'staff' }] },
  { uid: { type: 'Ztgate::Group', id: 'staff' }, attrs: {}, parents: [] },
  { uid: { type: 'Ztgate::Workspace', id: 'ws' }, attrs: {}, parents: [] },
  { uid: { type: 'Ztgate::Tool', id: 'search' }, attrs: {}, parents: [] },
  {
    uid: { type: 'Ztgate::Model', id: 'local' },
    attrs: {
      provider: 'vllm',
      region: 'eu',
      runtimeKind: 'on_prem',
      attestationKind: 'none',
      attested: false,
      dataClasses: ['internal'],
    },
    parents: [],
  },
]);

/** A bundle from policy text (one file) plus the shared entities. */
export function bundleOf(policies: string, extra: Record<string, string> = {}): PolicyBundle {
  return compileBundle(new Map(Object.entries({ 'p.cedar': policies, 'entities.json': MODELS, ...extra })));
}

export function input(overrides: Partial<DecisionInput> = {}): DecisionInput {
  return {
    principal: { kind: 'user', id: 'idp#alice', roles: ['dev'], groups: ['eng'], attributes: {} },
    action: 'chat',
    resource: { type: 'Model', id: 'local' },
    findings: [],
    dataClass: 'internal',
    risk: 10,
    networkZone: 'corporate',
    residency: 'eu',
    time: { hour: 12, weekday: 'wed' },
    ...overrides,
  };
}

export const CHAT_ON_PREM = `
@id("chat")
permit (principal is Ztgate::User, action == Ztgate::Action::"chat", resource is Ztgate::Model)
when { resource.runtimeKind == "on_prem" };`;
