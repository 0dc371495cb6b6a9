import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { metricTotals, summarise } from '../../../console/src/aggregate.js';
import { parseRoute } from '../../../console/src/route.js';
import type { AuditEntry } from '../../../console/src/types.js';

const entry = (
  time: string,
  decision: 'allow' | 'deny' | null,
  extra: Partial<AuditEntry> = {},
): AuditEntry => ({
  requestId: time,
  time,
  phase: 'release',
  action: 'chat.completions',
  principalId: 'idp#ada',
  decision,
  status: decision === 'deny' ? 403 : 200,
  ...extra,
});

describe('console overview aggregation', () => {
  it('counts requests, denials and findings, and buckets them per minute with gaps filled', () => {
    const summary = summarise([
      entry('2026-03-01T10:00:05.000Z', 'allow', { findings: { EMAIL_ADDRESS: 2 } }),
      entry('2026-03-01T10:00:50.000Z', 'deny', { findings: { EMAIL_ADDRESS: 1, US_SSN: 3 } }),
      entry('2026-03-01T10:00:51.000Z', 'allow', { phase: 'complete' }),
      entry('2026-03-01T10:01:00.000Z', null, { phase: 'control' }),
      entry('2026-03-01T10:03:10.000Z', 'deny', { phase: 'refused' }),
    ]);
    assert.equal(summary.requests, 3);
    assert.equal(summary.denials, 2);
    assert.deepEqual(summary.findings, [
      ['EMAIL_ADDRESS', 3],
      ['US_SSN', 3],
    ]);
    const t0 = Date.parse('2026-03-01T10:00:00.000Z') / 1000;
    assert.deepEqual(summary.perMinute.times, [t0, t0 + 60, t0 + 120, t0 + 180]);
    assert.deepEqual(summary.perMinute.requests, [2, 0, 0, 1]);
    assert.deepEqual(summary.perMinute.denials, [1, 0, 0, 1]);
  });

  it('is empty for no entries', () => {
    const summary = summarise([]);
    assert.equal(summary.requests, 0);
    assert.deepEqual(summary.perMinute.times, []);
  });

  it('sums Prometheus samples by metric name', () => {
    const totals = metricTotals(
      [
        '# HELP ztgate_http_requests_total Data-plane requests.',
        '# TYPE ztgate_http_requests_total counter',
        'ztgate_http_requests_total{route="/v1/chat/completions",status="200"} 7',
        'ztgate_http_requests_total{route="/v1/chat/completions",status="403"} 2',
        'ztgate_ledger_checkpoint_size 42',
        'weird_value NaN',
      ].join('\n'),
    );
    assert.equal(totals.get('ztgate_http_requests_total'), 9);
    assert.equal(totals.get('ztgate_ledger_checkpoint_size'), 42);
    assert.equal(totals.has('weird_value'), false);
  });
});

describe('console routes', () => {
  it('reads the page and an optional id from the hash', () => {
    assert.deepEqual(parseRoute(''), { page: '', rest: undefined });
    assert.deepEqual(parseRoute('#/ledger'), { page: 'ledger', rest: undefined });
    assert.deepEqual(parseRoute('#/incidents/inc_abc'), { page: 'incidents', rest: 'inc_abc' });
    assert.deepEqual(parseRoute('#/nowhere'), { page: '', rest: undefined });
  });
});
