import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { createSplunkHecSink, type SplunkHecOptions } from '../../../src/ledger/export/splunk-hec.js';
import { isExportError, type ExportError, type ExportRecord } from '../../../src/ledger/export/types.js';
import { startCollector, type SeenRequest } from '../../helpers/http-collector.js';
import { unusedPort } from '../../helpers/siem.js';

const TOKEN = '5e4a8b1c-9f2d-4c3e-8a7b-6d5c4b3a2f1e';
const SUCCESS = { status: 200, body: '{"text":"Success","code":0}' };
const FAST_RETRY = { initialDelayMs: 10, maxDelayMs: 20 };

function record(index: number): ExportRecord {
  return {
    index,
    time: Date.UTC(2026, 2, 4, 5, 6, 7, 89),
    summary: `deny #${index}`,
    outcome: 'denied',
    principal: 'alice',
    entry: { index, decision: 'deny', note: 'Grüße 日本' },
    leafHash: 'ab'.repeat(32),
    proof: { treeSize: 10, rootHash: 'cd'.repeat(32), hashes: ['ef'.repeat(32)] },
  };
}

function options(url: string, extra: Partial<SplunkHecOptions> = {}): SplunkHecOptions {
  return { url, token: TOKEN, host: 'gw.test', backoff: FAST_RETRY, ...extra };
}

/** HEC's batch body: JSON event objects one after another. */
function events(request: SeenRequest): Record<string, unknown>[] {
  return request.body.split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

function assertTokenAbsent(err: ExportError): void {
  for (const text of [
    err.message,
    String(err),
    err.stack ?? '',
    inspect(err, { depth: Infinity }),
    JSON.stringify(err),
  ]) {
    assert.equal(text.includes(TOKEN), false, 'the token leaked into the error');
  }
}

describe('Splunk HEC sink', () => {
  it('posts concatenated events with the Splunk token, retrying a 503 after Retry-After', async () => {
    const collector = await startCollector((n, req) =>
      req.headers.authorization !== `Splunk ${TOKEN}`
        ? { status: 401, body: '{"text":"Token is required","code":2}' }
        : n === 0
          ? { status: 503, body: '{"text":"Server is busy","code":9}', headers: { 'retry-after': '1' } }
          : SUCCESS,
    );
    const sink = createSplunkHecSink(options(collector.url, { index: 'audit', maxBatchRecords: 2 }));
    try {
      await sink.write([record(0), record(1), record(2)]);
      assert.equal(collector.requests.length, 3); // the first batch twice, then the second
      assert.ok(collector.arrivals[1]! - collector.arrivals[0]! >= 950, 'Retry-After: 1 was not honoured');
      for (const req of collector.requests) {
        assert.equal(req.method, 'POST');
        assert.equal(req.path, '/services/collector/event');
        assert.equal(req.headers.authorization, `Splunk ${TOKEN}`);
      }
      assert.equal(collector.requests[0]!.body, collector.requests[1]!.body);
      const sent = [...events(collector.requests[1]!), ...events(collector.requests[2]!)];
      assert.deepEqual(sent[0], {
        time: 1772600767.089,
        host: 'gw.test',
        source: 'ztgate',
        sourcetype: 'ztgate:audit',
        index: 'audit',
        event: {
          ledgerIndex: 0,
          leafHash: 'ab'.repeat(32),
          outcome: 'denied',
          principal: 'alice',
          summary: 'deny #0',
          entry: record(0).entry,
          proof: record(0).proof,
        },
      });
      assert.deepEqual(
        sent.map((event) => (event.event as { ledgerIndex: number }).ledgerIndex),
        [0, 1, 2],
      );
    } finally {
      await sink.close();
      await collector.close();
    }
  });

  it('fails at once on a 4xx without putting the token in the error', async () => {
    const collector = await startCollector(() => ({
      status: 403,
      body: '{"text":"Invalid token","code":4}',
    }));
    const sink = createSplunkHecSink(options(collector.url));
    try {
      const err = await sink.write([record(0)]).then(
        () => assert.fail('the write succeeded'),
        (e: unknown) => e as ExportError,
      );
      assert.ok(isExportError(err, 'http_status'));
      assert.equal(err.status, 403);
      assert.equal(err.retryable, false);
      assert.match(err.message, /HTTP 403: Invalid token \(code 4\)/);
      assert.equal(collector.requests.length, 1);
      assertTokenAbsent(err);
    } finally {
      await sink.close();
      await collector.close();
    }
  });

  it('scrubs the token from a server answer that echoes the request', async () => {
    const collector = await startCollector((_n, req) => ({
      status: 400,
      body: `bad request; you sent authorization: ${String(req.headers.authorization)}`,
    }));
    const sink = createSplunkHecSink(options(collector.url));
    try {
      const err = await sink.write([record(0)]).catch((e: unknown) => e as ExportError);
      assert.ok(isExportError(err, 'http_status'));
      assert.match(err.message, /\[redacted\]/);
      assertTokenAbsent(err);
    } finally {
      await sink.close();
      await collector.close();
    }
  });

  it('gives up after the attempts on a persistent 5xx, and on a refused connection', async () => {
    const collector = await startCollector(() => ({ status: 500, body: '{"text":"Internal","code":8}' }));
    const sink = createSplunkHecSink(options(collector.url, { maxAttempts: 3 }));
    const refused = createSplunkHecSink(
      options(`http://127.0.0.1:${await unusedPort()}`, { maxAttempts: 2 }),
    );
    try {
      const err = await sink.write([record(0)]).catch((e: unknown) => e as ExportError);
      assert.ok(isExportError(err, 'http_status') && err.status === 500 && err.retryable);
      assert.equal(collector.requests.length, 3);
      const down = await refused.write([record(0)]).catch((e: unknown) => e as ExportError);
      assert.ok(isExportError(down, 'unavailable') && down.retryable);
      assertTokenAbsent(down);
    } finally {
      await Promise.all([sink.close(), refused.close()]);
      await collector.close();
    }
  });

  it('treats a 200 with a non-zero HEC code as a refusal', async () => {
    const collector = await startCollector(() => ({
      status: 200,
      body: '{"text":"Invalid data format","code":6}',
    }));
    const sink = createSplunkHecSink(options(collector.url));
    try {
      await assert.rejects(
        sink.write([record(0)]),
        (err) => isExportError(err, 'rejected') && err.status === 200,
      );
    } finally {
      await sink.close();
      await collector.close();
    }
  });

  it('refuses insecure or malformed options at setup, and writes after close', async () => {
    const bad: SplunkHecOptions[] = [
      { url: 'http://splunk.example:8088', token: TOKEN },
      { url: 'ftp://127.0.0.1', token: TOKEN },
      { url: 'not a url', token: TOKEN },
      { url: 'https://user:pw@splunk.example', token: TOKEN },
      { url: 'https://splunk.example', token: 'short' },
      { url: 'https://splunk.example', token: `${TOKEN}\r\nx: y` },
      { url: 'https://splunk.example', token: TOKEN, channel: 'not-a-guid' },
      { url: 'https://splunk.example', token: TOKEN, maxAttempts: 0 },
    ];
    for (const option of bad) {
      assert.throws(
        () => createSplunkHecSink(option),
        (err) => isExportError(err, 'invalid_options') && !err.message.includes(TOKEN),
      );
    }
    const sink = createSplunkHecSink({ url: 'https://splunk.example:8088', token: TOKEN });
    await sink.close();
    await assert.rejects(sink.write([record(0)]), (err) => isExportError(err, 'closed'));
  });

  it('sends the request channel header when one is set', async () => {
    const channel = '0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba';
    const collector = await startCollector(() => SUCCESS);
    const sink = createSplunkHecSink(options(`${collector.url}/prefix`, { channel }));
    try {
      await sink.write([record(0)]);
      assert.equal(collector.requests[0]!.headers['x-splunk-request-channel'], channel);
      assert.equal(collector.requests[0]!.path, '/prefix/services/collector/event');
    } finally {
      await sink.close();
      await collector.close();
    }
  });
});
