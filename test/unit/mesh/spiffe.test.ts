import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMeshError, parseSpiffeId, parseWorkloadId, SpiffeAllowList } from '../../../src/mesh/index.js';

describe('SPIFFE IDs', () => {
  it('parses valid IDs into trust domain and path', () => {
    assert.deepEqual(parseSpiffeId('spiffe://example.org/agent/a-1_x.y'), {
      trustDomain: 'example.org',
      path: '/agent/a-1_x.y',
      id: 'spiffe://example.org/agent/a-1_x.y',
    });
    assert.equal(parseSpiffeId('spiffe://example.org').path, '');
    assert.equal(parseWorkloadId('spiffe://td/AGENT/Name').path, '/AGENT/Name');
  });

  const invalid = [
    'http://example.org/a',
    'SPIFFE://example.org/a',
    'spiffe://',
    'spiffe:///a',
    'spiffe://Example.org/a',
    'spiffe://example.org:8443/a',
    'spiffe://user@example.org/a',
    'spiffe://exa%41mple.org/a',
    'spiffe://example.org/a/',
    'spiffe://example.org//a',
    'spiffe://example.org/a/./b',
    'spiffe://example.org/a/..',
    'spiffe://example.org/a?b=c',
    'spiffe://example.org/a#b',
    'spiffe://example.org/a%20b',
    'spiffe://example.org/a b',
    `spiffe://example.org/${'a'.repeat(2040)}`,
  ];
  for (const text of invalid) {
    it(`refuses ${JSON.stringify(text.slice(0, 40))}`, () => {
      assert.throws(
        () => parseSpiffeId(text),
        (err) => isMeshError(err, 'spiffe_id_invalid'),
      );
    });
  }

  it('a workload ID needs a path', () => {
    assert.throws(
      () => parseWorkloadId('spiffe://example.org'),
      (err) => isMeshError(err, 'spiffe_id_invalid'),
    );
  });
});

describe('SPIFFE allow-lists', () => {
  const list = new SpiffeAllowList(['spiffe://td/agent/a1', 'spiffe://td/ops/*']);

  it('matches exact IDs and /* prefixes at any depth, nothing else', () => {
    const allows = (id: string) => list.allows(parseSpiffeId(id));
    assert.equal(allows('spiffe://td/agent/a1'), true);
    assert.equal(allows('spiffe://td/agent/a10'), false);
    assert.equal(allows('spiffe://td/agent/a1/x'), false);
    assert.equal(allows('spiffe://td/ops/alice'), true);
    assert.equal(allows('spiffe://td/ops/team/alice'), true);
    assert.equal(allows('spiffe://td/ops'), false);
    assert.equal(allows('spiffe://td/opsx/alice'), false);
    assert.equal(allows('spiffe://other/ops/alice'), false);
  });

  it('refuses wildcards elsewhere and invalid entries', () => {
    for (const entry of ['spiffe://td/*/a', 'spiffe://td/a*', 'spiffe://td', 'spiffe://TD/a', 'td/a']) {
      assert.throws(
        () => new SpiffeAllowList([entry]),
        (err) => isMeshError(err, 'spiffe_id_invalid'),
        entry,
      );
    }
  });

  it('an empty list is empty', () => {
    assert.equal(new SpiffeAllowList([]).empty, true);
    assert.equal(list.empty, false);
  });
});
