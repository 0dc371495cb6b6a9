import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { canonicalJson } from '../../../src/ledger/canonical-json.js';
import { createSyslogSink, type SyslogSinkOptions } from '../../../src/ledger/export/syslog.js';
import { isExportError, type ExportRecord, type ExportOutcome } from '../../../src/ledger/export/types.js';
import {
  makeTestPki,
  parseSyslog,
  startSyslogReceiver,
  unusedPort,
  eventually,
  type TestPki,
} from '../../helpers/siem.js';

function record(index: number, outcome: ExportOutcome = 'allowed'): ExportRecord {
  return {
    index,
    time: Date.UTC(2026, 2, 4, 5, 6, 7, index),
    summary: `${outcome} #${index}`,
    outcome,
    principal: `user-${index}"]\\`,
    entry: { index, text: 'naïve café ✓' },
    leafHash: index.toString(16).padStart(64, '0'),
  };
}

function causeCode(err: Error): unknown {
  return (err.cause as { code?: unknown } | undefined)?.code;
}

const FAST_RETRY = { initialDelayMs: 20, maxDelayMs: 50 };
const FORMAT = { hostname: 'gw.test', procId: '7' };

function tcpOptions(port: number, extra: Partial<SyslogSinkOptions> = {}): SyslogSinkOptions {
  return { host: '127.0.0.1', port, transport: 'tcp', format: FORMAT, backoff: FAST_RETRY, ...extra };
}

describe('syslog sink over TCP', () => {
  it('delivers octet-counted RFC 5424 frames in order, each field intact', async () => {
    const receiver = await startSyslogReceiver();
    const sink = createSyslogSink(tcpOptions(receiver.port));
    try {
      const records = [record(0, 'allowed'), record(1, 'denied'), record(2, 'error')];
      await sink.write(records);
      await receiver.waitForFrames(3);
      const parsed = receiver.frames.map(parseSyslog);
      assert.deepEqual(
        parsed.map((m) => [m.facility, m.severity, m.hostname, m.appName, m.procId, m.msgId]),
        [
          [10, 6, 'gw.test', 'ztgate', '7', 'audit'],
          [10, 4, 'gw.test', 'ztgate', '7', 'audit'],
          [10, 3, 'gw.test', 'ztgate', '7', 'audit'],
        ],
      );
      parsed.forEach((message, i) => {
        const params = new Map(message.structuredData[0]!.params);
        assert.equal(params.get('index'), String(i));
        assert.equal(params.get('principal'), records[i]!.principal);
        assert.equal(message.timestamp, new Date(records[i]!.time).toISOString());
        assert.equal(message.msgText, canonicalJson(records[i]!.entry));
      });
    } finally {
      await sink.close();
      await receiver.close();
    }
  });

  it('reconnects when the receiver drops the connection and sends what came after', async () => {
    const receiver = await startSyslogReceiver();
    const sink = createSyslogSink(tcpOptions(receiver.port));
    try {
      await sink.write([record(0)]);
      await receiver.waitForFrames(1);
      for (const socket of receiver.sockets) socket.destroy();
      await eventually(() => receiver.sockets.size === 0);
      await new Promise((resolve) => setTimeout(resolve, 50)); // let the client see the FIN
      await sink.write([record(1), record(2)]);
      await receiver.waitForFrames(3);
      assert.equal(receiver.connections, 2);
      assert.deepEqual(
        receiver.frames.map((frame) => new Map(parseSyslog(frame).structuredData[0]!.params).get('index')),
        ['0', '1', '2'],
      );
    } finally {
      await sink.close();
      await receiver.close();
    }
  });

  it('keeps retrying with backoff until a receiver comes up', async () => {
    const port = await unusedPort();
    const sink = createSyslogSink(tcpOptions(port, { maxAttempts: 50 }));
    const delivered = sink.write([record(7)]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const receiver = await startSyslogReceiver(undefined, port);
    try {
      await delivered;
      await receiver.waitForFrames(1);
      assert.equal(new Map(parseSyslog(receiver.frames[0]!).structuredData[0]!.params).get('index'), '7');
    } finally {
      await sink.close();
      await receiver.close();
    }
  });

  it('fails closed with a typed error when the buffer is full, and unavailable after the attempts', async () => {
    const port = await unusedPort();
    const sink = createSyslogSink(tcpOptions(port, { maxAttempts: 3, maxBufferedBytes: 500 }));
    // The first write waits in the buffer while connects fail; the second does not fit beside it.
    const first = assert.rejects(
      sink.write([record(0)]),
      (err) => isExportError(err, 'unavailable') && err.retryable,
    );
    await assert.rejects(
      sink.write([record(1), record(2)]),
      (err) => isExportError(err, 'buffer_full') && err.retryable,
    );
    await first;
    await sink.close();
    await assert.rejects(sink.write([record(4)]), (err) => isExportError(err, 'closed'));
  });

  it('refuses a bad record before queueing any of the write', async () => {
    const receiver = await startSyslogReceiver();
    const sink = createSyslogSink(tcpOptions(receiver.port));
    try {
      const bad = { ...record(1), time: 'not a time' };
      await assert.rejects(sink.write([record(0), bad]), (err) => isExportError(err, 'invalid_record'));
      await sink.write([record(2)]);
      await receiver.waitForFrames(1);
      assert.equal(receiver.frames.length, 1);
    } finally {
      await sink.close();
      await receiver.close();
    }
  });

  it('refuses plaintext to a remote host and other bad options at setup', () => {
    const bad: SyslogSinkOptions[] = [
      { host: 'siem.example', port: 6514, transport: 'tcp' },
      { host: '127.0.0.1', port: 0, transport: 'tcp' },
      { host: '127.0.0.1', port: 514, transport: 'udp' as 'tcp' },
      { host: '127.0.0.1', port: 514, transport: 'tcp', maxBufferedBytes: 0 },
      { host: '127.0.0.1', port: 514, transport: 'tcp', format: { sdId: 'no-enterprise-number' } },
    ];
    for (const options of bad) {
      assert.throws(
        () => createSyslogSink(options),
        (err) => isExportError(err, 'invalid_options'),
      );
    }
    assert.doesNotThrow(() =>
      createSyslogSink({ host: 'siem.example', port: 514, transport: 'tcp', allowPlaintext: true }),
    );
  });
});

describe('syslog sink over TLS (RFC 5425)', () => {
  let pki: TestPki;
  let otherPki: TestPki;
  before(async () => {
    [pki, otherPki] = await Promise.all([makeTestPki(), makeTestPki('someone else')]);
  });

  const tlsSink = (port: number, tls: SyslogSinkOptions['tls']) =>
    createSyslogSink({
      host: '127.0.0.1',
      port,
      transport: 'tls',
      tls,
      format: FORMAT,
      backoff: FAST_RETRY,
      maxAttempts: 2,
    });

  it('verifies the receiver against the given CA and presents a client certificate', async () => {
    const receiver = await startSyslogReceiver({ ...pki.server, clientCa: pki.caPem });
    const sink = tlsSink(receiver.port, { ca: pki.caPem, cert: pki.client.cert, key: pki.client.key });
    try {
      await sink.write([record(0, 'denied'), record(1)]);
      await receiver.waitForFrames(2);
      assert.deepEqual(receiver.clientSubjects, ['ztgate-exporter']);
      const first = parseSyslog(receiver.frames[0]!);
      assert.equal(first.severity, 4);
      assert.equal(first.msgText, canonicalJson(record(0).entry));
    } finally {
      await sink.close();
      await receiver.close();
    }
  });

  it('refuses a receiver whose certificate another CA issued', async () => {
    const receiver = await startSyslogReceiver(otherPki.server);
    const sink = tlsSink(receiver.port, { ca: pki.caPem });
    try {
      await assert.rejects(
        sink.write([record(0)]),
        (err) => isExportError(err, 'unavailable') && causeCode(err) === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      );
      assert.equal(receiver.frames.length, 0);
    } finally {
      await sink.close();
      await receiver.close();
    }
  });

  it('refuses a receiver whose certificate names another host', async () => {
    const receiver = await startSyslogReceiver(pki.server);
    const sink = tlsSink(receiver.port, { ca: pki.caPem, servername: 'siem.example' });
    try {
      await assert.rejects(
        sink.write([record(0)]),
        (err) => isExportError(err, 'unavailable') && causeCode(err) === 'ERR_TLS_CERT_ALTNAME_INVALID',
      );
      assert.equal(receiver.frames.length, 0);
    } finally {
      await sink.close();
      await receiver.close();
    }
  });
});
