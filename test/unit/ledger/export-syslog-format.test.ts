import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalBytes, canonicalJson } from '../../../src/ledger/canonical-json.js';
import { leafHash } from '../../../src/ledger/merkle.js';
import {
  createSyslogFormatter,
  escapeParamValue,
  formatSyslog,
  octetCountedFrame,
} from '../../../src/ledger/export/syslog.js';
import { isExportError, type ExportRecord } from '../../../src/ledger/export/types.js';
import { FrameReader, parseSyslog } from '../../helpers/siem.js';

const ENTRY = {
  requestId: 'req-1',
  time: '2026-03-04T05:06:07.089Z',
  decision: 'deny',
  principalId: 'alice@example.com',
  findings: { EMAIL_ADDRESS: 2 },
  note: 'Grüße, 日本語, 🙂',
};

const ENTRY_LEAF_HASH = leafHash(canonicalBytes(ENTRY)).toString('hex');

function record(overrides: Partial<ExportRecord> = {}): ExportRecord {
  const entry = overrides.entry ?? ENTRY;
  return {
    index: 41,
    time: '2026-03-04T05:06:07.089Z',
    summary: 'deny alice gpt-4o',
    outcome: 'denied',
    principal: 'alice@example.com',
    entry,
    leafHash: entry === ENTRY ? ENTRY_LEAF_HASH : '00'.repeat(32),
    ...overrides,
  };
}

const OPTIONS = { hostname: 'gw-1.example', procId: '4242' } as const;

function parse(message: string) {
  return parseSyslog(Buffer.from(message, 'utf8'));
}

function sdParams(message: string): Map<string, string> {
  const [element] = parse(message).structuredData;
  return new Map(element!.params);
}

describe('formatSyslog', () => {
  it('writes every header field by the RFC 5424 grammar', () => {
    const parsed = parse(formatSyslog(record(), OPTIONS));
    assert.equal(parsed.version, 1);
    assert.equal(parsed.facility, 10); // authpriv by default
    assert.equal(parsed.severity, 4); // denied: warning
    assert.equal(parsed.timestamp, '2026-03-04T05:06:07.089Z');
    assert.equal(parsed.hostname, 'gw-1.example');
    assert.equal(parsed.appName, 'ztgate');
    assert.equal(parsed.procId, '4242');
    assert.equal(parsed.msgId, 'audit');
  });

  it('maps outcomes to info, warning and err, and takes facility names or numbers', () => {
    const severities = (['allowed', 'denied', 'error'] as const).map(
      (outcome) => parse(formatSyslog(record({ outcome }), OPTIONS)).severity,
    );
    assert.deepEqual(severities, [6, 4, 3]);
    assert.equal(parse(formatSyslog(record(), { ...OPTIONS, facility: 'local0' })).facility, 16);
    assert.equal(parse(formatSyslog(record(), { ...OPTIONS, facility: 13 })).facility, 13);
    assert.ok(
      formatSyslog(record({ outcome: 'allowed' }), { ...OPTIONS, facility: 'local7' }).startsWith('<190>1 '),
    );
  });

  it('carries the ledger position in a private SD element', () => {
    const proof = { treeSize: 42, rootHash: 'ab'.repeat(32), hashes: ['01'.repeat(32), '02'.repeat(32)] };
    const message = formatSyslog(record({ proof }), OPTIONS);
    const [element] = parse(message).structuredData;
    assert.equal(element!.id, 'ztgate@32473');
    assert.deepEqual(Object.fromEntries(element!.params), {
      index: '41',
      leafHash: record().leafHash,
      outcome: 'denied',
      principal: 'alice@example.com',
      summary: 'deny alice gpt-4o',
      treeSize: '42',
      rootHash: proof.rootHash,
      inclusionProof: proof.hashes.join(','),
    });
    assert.equal(
      parse(formatSyslog(record(), { ...OPTIONS, sdId: 'audit@64000' })).structuredData[0]!.id,
      'audit@64000',
    );
  });

  it('escapes ", \\ and ] in PARAM-VALUE and nothing else', () => {
    assert.equal(escapeParamValue('a"b\\c]d[e='), 'a\\"b\\\\c\\]d[e=');
    const principal = 'evil"] [x@1 y="z\\';
    const message = formatSyslog(record({ principal, summary: 'ends with \\' }), OPTIONS);
    assert.ok(message.includes('principal="evil\\"\\] [x@1 y=\\"z\\\\"'));
    assert.equal(sdParams(message).get('principal'), principal);
    assert.equal(sdParams(message).get('summary'), 'ends with \\');
    assert.equal(parse(message).structuredData.length, 1);
  });

  it('puts BOM + the canonical JSON in MSG, non-ASCII included, so the leaf hash can be recomputed', () => {
    const message = formatSyslog(record(), OPTIONS);
    const parsed = parse(message);
    assert.equal(parsed.hasBom, true);
    assert.equal(parsed.msgText, canonicalJson(ENTRY));
    assert.ok(parsed.msgText!.includes('Grüße, 日本語, 🙂'));
    assert.equal(leafHash(parsed.msgBytes!.subarray(3)).toString('hex'), sdParams(message).get('leafHash'));
  });

  it('frames by octet count in bytes, not characters', () => {
    const message = formatSyslog(record(), OPTIONS);
    const frame = octetCountedFrame(message);
    const length = Buffer.byteLength(message, 'utf8');
    assert.notEqual(length, message.length);
    assert.ok(frame.toString('utf8').startsWith(`${length} <`));
    assert.deepEqual(new FrameReader().push(frame), [Buffer.from(message, 'utf8')]);
  });

  it('writes NILVALUE for a null procId and leaves principal out when there is none', () => {
    const message = formatSyslog(record({ principal: null }), { ...OPTIONS, procId: null });
    assert.equal(parse(message).procId, null);
    assert.equal(sdParams(message).has('principal'), false);
  });

  it('turns epoch milliseconds into a UTC timestamp', () => {
    const parsed = parse(formatSyslog(record({ time: Date.UTC(2026, 0, 2, 3, 4, 5, 6) }), OPTIONS));
    assert.equal(parsed.timestamp, '2026-01-02T03:04:05.006Z');
  });

  it('refuses records it cannot express faithfully', () => {
    const format = createSyslogFormatter(OPTIONS);
    for (const bad of [
      record({ time: 'yesterday' }),
      record({ time: '2026-03-04T05:06:07' }), // no offset: ambiguous
      record({ time: Date.UTC(10_000, 0, 1) }),
      record({ entry: { text: '\uD800' } }),
      record({ entry: { n: Number.NaN } }),
    ]) {
      assert.throws(
        () => format(bad),
        (err) => isExportError(err, 'invalid_record'),
      );
    }
    const small = createSyslogFormatter({ ...OPTIONS, maxMessageBytes: 600 });
    assert.throws(
      () => small(record({ entry: { blob: 'x'.repeat(600) } })),
      (err) => isExportError(err, 'message_too_large'),
    );
  });

  it('refuses options that break the grammar at setup', () => {
    for (const options of [
      { hostname: 'has space' },
      { hostname: 'hôte' },
      { appName: 'a'.repeat(49) },
      { msgId: 'm'.repeat(33) },
      { sdId: 'ztgate' }, // an unregistered name needs @enterprise-number
      { sdId: 'zt"gate@32473' },
      { sdId: 'zt gate@32473' },
      { sdId: 'ztgate@32473.x' },
      { sdId: `${'z'.repeat(30)}@32473` },
      { facility: 24 },
      { maxMessageBytes: 100 },
    ]) {
      assert.throws(
        () => createSyslogFormatter(options),
        (err) => isExportError(err, 'invalid_options'),
      );
    }
  });

  it('round-trips any principal, summary and JSON entry through a strict parser', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 40 });
    fc.assert(
      fc.property(text, text, fc.jsonValue({ maxDepth: 3 }), (principal, summary, value) => {
        const entry = { value: JSON.parse(JSON.stringify(value)) as unknown };
        const message = formatSyslog(record({ principal: principal || null, summary, entry }), OPTIONS);
        const params = sdParams(message);
        assert.equal(params.get('summary'), summary);
        assert.equal(params.get('principal'), principal || undefined);
        assert.equal(parse(message).msgText, canonicalJson(entry));
      }),
      { numRuns: 300 },
    );
  });
});
