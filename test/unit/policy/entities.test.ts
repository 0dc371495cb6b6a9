import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRequest, summarizeFindings } from '../../../src/policy/index.js';
import { bundleOf, CHAT_ON_PREM, input } from './helpers.js';

describe('entity building', () => {
  const bundle = bundleOf(CHAT_ON_PREM);

  it('sends only the entities the request touches', () => {
    const r = buildRequest(
      input({ device: { id: 'd', trust: 'verified', managed: true, compliant: true } }),
      bundle.entities,
    );
    assert.ok(r.ok);
    const uids = r.request.entities.map(
      (e) => `${'type' in e.uid ? e.uid.type : ''}::${'id' in e.uid ? e.uid.id : ''}`,
    );
    assert.deepEqual(uids.sort(), [
      'Ztgate::Device::d',
      'Ztgate::Group::eng',
      'Ztgate::Group::staff',
      'Ztgate::Model::local',
      'Ztgate::User::idp#alice',
    ]);
    assert.deepEqual(r.request.principal, { type: 'Ztgate::User', id: 'idp#alice' });
    assert.equal(r.request.context.deviceTrust, 'verified');
  });

  it('copies only the documented principal attributes', () => {
    const r = buildRequest(
      input({
        principal: {
          kind: 'service',
          id: 'spiffe://corp/batch',
          roles: ['r'],
          groups: [],
          attributes: { department: 'fin', clearance: 3, homeRegion: 'eu', favouriteColour: 'red' },
        },
      }),
      bundle.entities,
    );
    assert.ok(r.ok);
    const principal = r.request.entities.find((e) => 'id' in e.uid && e.uid.id === 'spiffe://corp/batch');
    assert.deepEqual(principal?.attrs, {
      roles: ['r'],
      groups: [],
      department: 'fin',
      clearance: 3,
      homeRegion: 'eu',
    });
    assert.deepEqual(r.request.principal.type, 'Ztgate::ServiceAccount');
  });

  it('summarises findings as integers', () => {
    assert.deepEqual(
      summarizeFindings(
        [
          { type: 'EMAIL_ADDRESS', score: 0.8 },
          { type: 'SECRET', detector: 'secrets', score: 1 },
          { type: 'AWS_KEY', detector: 'secrets' },
          { type: 'PROMPT_INJECTION', score: 0.4567 },
          { type: 'PROMPT_INJECTION', score: 0.2 },
        ],
        'confidential',
      ),
      {
        entityTypes: ['AWS_KEY', 'EMAIL_ADDRESS', 'PROMPT_INJECTION', 'SECRET'],
        secretCount: 2,
        injectionScore: 457,
        dataClass: 'confidential',
      },
    );
    assert.deepEqual(summarizeFindings([], 'public'), {
      entityTypes: [],
      secretCount: 0,
      injectionScore: 0,
      dataClass: 'public',
    });
  });
});
