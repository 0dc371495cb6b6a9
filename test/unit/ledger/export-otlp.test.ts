import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { canonicalJson } from '../../../src/ledger/canonical-json.js';
import { createOtlpLogsSink, toAnyValue, type OtlpLogsOptions } from '../../../src/ledger/export/otlp.js';
import { isExportError, type ExportError, type ExportRecord } from '../../../src/ledger/export/types.js';
import { startCollector, type SeenRequest } from '../../helpers/http-collector.js';

const SECRET = 'Bearer otlp-secret-0123456789abcdef';
const FAST_RETRY = { initialDelayMs: 10, maxDelayMs: 20 };
const TIME_MS = Date.UTC(2026, 2, 4, 5, 6, 7, 89);

function record(index: number, outcome: ExportRecord['outcome'] = 'allowed'): ExportRecord {
  return {
    index,
    time: new Date(TIME_MS).toISOString(),
    summary: `${outcome} #${index}`,
    outcome,
    principal: 'bob',
    entry: { index, ratio: 0.5, big: 2 ** 53, nothing: null, tags: ['a', true], note: 'é🙂' },
    leafHash: 'ab'.repeat(32),
    proof: { treeSize: 9, rootHash: 'cd'.repeat(32), hashes: ['01'.repeat(32), '02'.repeat(32)] },
  };
}

function options(url: string, extra: Partial<OtlpLogsOptions> = {}): OtlpLogsOptions {
  return { url, headers: { authorization: SECRET }, backoff: FAST_RETRY, ...extra };
}

interface KeyValue {
  key: string;
  value: Record<string, unknown>;
}

/** Checks OTLP/JSON's naming rule on every object key (attribute keys are values, not names). */
function assertLowerCamelCase(value: unknown, path = ''): void {
  if (Array.isArray(value)) value.forEach((item, i) => assertLowerCamelCase(item, `${path}/${i}`));
  else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      assert.match(key, /^[a-z][a-zA-Z0-9]*$/, `key ${path}/${key}`);
      assertLowerCamelCase(item, `${path}/${key}`);
    }
  }
}

function logRecords(request: SeenRequest): Record<string, unknown>[] {
  const body = JSON.parse(request.body) as {
    resourceLogs: {
      resource: { attributes: KeyValue[] };
      scopeLogs: { scope: { name: string }; logRecords: Record<string, unknown>[] }[];
    }[];
  };
  assertLowerCamelCase(body);
  assert.equal(body.resourceLogs.length, 1);
  const [resourceLogs] = body.resourceLogs;
  assert.deepEqual(resourceLogs!.resource.attributes, [
    { key: 'service.name', value: { stringValue: 'ztgate' } },
    { key: 'deployment.environment.name', value: { stringValue: 'test' } },
  ]);
  assert.equal(resourceLogs!.scopeLogs[0]!.scope.name, 'ztgate.ledger.export');
  return resourceLogs!.scopeLogs[0]!.logRecords;
}

function attributes(logRecord: Record<string, unknown>): Map<string, Record<string, unknown>> {
  return new Map((logRecord.attributes as KeyValue[]).map(({ key, value }) => [key, value]));
}

describe('OTLP/HTTP JSON logs sink', () => {
  it('posts ExportLogsServiceRequest JSON with int64 as strings, retrying a 429', async () => {
    const collector = await startCollector((n) =>
      n === 0 ? { status: 429, headers: { 'retry-after': '0' } } : { status: 200, body: '{}' },
    );
    const sink = createOtlpLogsSink(
      options(collector.url, { resourceAttributes: { 'deployment.environment.name': 'test' } }),
    );
    try {
      await sink.write([record(0, 'allowed'), record(1, 'denied'), record(2, 'error')]);
      assert.equal(collector.requests.length, 2);
      const req = collector.requests[1]!;
      assert.equal(req.path, '/v1/logs');
      assert.equal(req.headers['content-type'], 'application/json');
      assert.equal(req.headers.authorization, SECRET);
      const records = logRecords(req);
      assert.deepEqual(
        records.map((r) => [r.severityNumber, r.severityText]),
        [
          [9, 'INFO'],
          [13, 'WARN'],
          [17, 'ERROR'],
        ],
      );
      const first = records[0]!;
      assert.equal(first.timeUnixNano, `${TIME_MS}000000`);
      assert.match(first.observedTimeUnixNano as string, /^[1-9]\d{18}$/);
      assert.deepEqual(first.body, { stringValue: canonicalJson(record(0).entry) });
      const attrs = attributes(first);
      assert.deepEqual(attrs.get('ztgate.ledger.index'), { intValue: '0' });
      assert.deepEqual(attrs.get('ztgate.ledger.tree_size'), { intValue: '9' });
      assert.deepEqual(attrs.get('ztgate.ledger.leaf_hash'), { stringValue: 'ab'.repeat(32) });
      assert.deepEqual(attrs.get('ztgate.principal'), { stringValue: 'bob' });
      assert.deepEqual(attrs.get('ztgate.ledger.inclusion_proof'), {
        arrayValue: { values: [{ stringValue: '01'.repeat(32) }, { stringValue: '02'.repeat(32) }] },
      });
    } finally {
      await sink.close();
      await collector.close();
    }
  });

  it('can send the entry as a kvlistValue body', async () => {
    const collector = await startCollector(() => ({ status: 200, body: '{"partialSuccess":{}}' }));
    const sink = createOtlpLogsSink(
      options(`${collector.url}/otel/`, {
        body: 'kvlist',
        resourceAttributes: { 'deployment.environment.name': 'test' },
      }),
    );
    try {
      await sink.write([record(3)]);
      assert.equal(collector.requests[0]!.path, '/otel/v1/logs');
      const [logRecord] = logRecords(collector.requests[0]!);
      assert.deepEqual(logRecord!.body, {
        kvlistValue: {
          values: [
            { key: 'big', value: { doubleValue: 2 ** 53 } },
            { key: 'index', value: { intValue: '3' } },
            { key: 'note', value: { stringValue: 'é🙂' } },
            { key: 'nothing', value: {} },
            { key: 'ratio', value: { doubleValue: 0.5 } },
            { key: 'tags', value: { arrayValue: { values: [{ stringValue: 'a' }, { boolValue: true }] } } },
          ],
        },
      });
    } finally {
      await sink.close();
      await collector.close();
    }
  });

  it('reports partial success as rejected records, without retrying', async () => {
    const collector = await startCollector(() => ({
      status: 200,
      body: '{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"too old"}}',
    }));
    const sink = createOtlpLogsSink(options(collector.url));
    try {
      await assert.rejects(
        sink.write([record(0), record(1)]),
        (err) => isExportError(err, 'rejected') && /2 log records: too old/.test(err.message),
      );
      assert.equal(collector.requests.length, 1);
    } finally {
      await sink.close();
      await collector.close();
    }
  });

  it('does not retry a 400 and keeps header secrets out of the error', async () => {
    const collector = await startCollector((_n, req) => ({
      status: 400,
      body: JSON.stringify({ code: 3, message: `bad payload from ${String(req.headers.authorization)}` }),
    }));
    const sink = createOtlpLogsSink(options(collector.url));
    try {
      const err = await sink.write([record(0)]).catch((e: unknown) => e as ExportError);
      assert.ok(isExportError(err, 'http_status') && err.status === 400 && !err.retryable);
      assert.equal(collector.requests.length, 1);
      for (const text of [err.message, err.stack ?? '', inspect(err, { depth: Infinity }), inspect(sink)]) {
        assert.equal(text.includes('otlp-secret'), false);
      }
    } finally {
      await sink.close();
      await collector.close();
    }
  });

  it('fails a batch whose Retry-After exceeds the cap instead of waiting', async () => {
    const collector = await startCollector(() => ({ status: 503, headers: { 'retry-after': '3600' } }));
    const sink = createOtlpLogsSink(options(collector.url, { maxRetryAfterMs: 1000 }));
    try {
      await assert.rejects(
        sink.write([record(0)]),
        (err) => isExportError(err, 'http_status') && err.retryable,
      );
      assert.equal(collector.requests.length, 1);
    } finally {
      await sink.close();
      await collector.close();
    }
  });

  it('maps JSON to AnyValue with OTLP int64 strings', () => {
    assert.deepEqual(toAnyValue({ a: [1, -2, 1.5, 'x', null] }), {
      kvlistValue: {
        values: [
          {
            key: 'a',
            value: {
              arrayValue: {
                values: [
                  { intValue: '1' },
                  { intValue: '-2' },
                  { doubleValue: 1.5 },
                  { stringValue: 'x' },
                  {},
                ],
              },
            },
          },
        ],
      },
    });
  });
});
