import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import {
  createNotifiers,
  notifyAll,
  NotifyError,
  signWebhook,
  syslogNotifier,
  verifyWebhookSignature,
  webhookNotifier,
  type IncidentNotice,
  type Notifier,
} from '../../src/watch/notify.js';
import { startCollector, type Collector } from '../helpers/http-collector.js';
import { eventually, makeTestPki, parseSyslog, startSyslogReceiver, unusedPort } from '../helpers/siem.js';

const KEY = randomBytes(32);
const SECRET = `whsec_${KEY.toString('base64')}`;
const RAW_SECRET = 'raw-secret-7f3a9c2e1b-do-not-leak';
const FAST = { initialDelayMs: 5, maxDelayMs: 20 };

const NOTICE: IncidentNotice = {
  incidentId: 'inc-0001',
  playbookId: 'pb-exfil',
  severity: 'critical',
  subject: { kind: 'principal', id: 'alice@example.com' },
  actions: ['revoke_tokens', 'notify'],
  evidence: ['req-aaa', 'req-bbb'],
  reason: 'token burn 40x baseline',
  time: '2026-03-01T12:34:56.789Z',
};

/** Every way the secret could show up in text. */
function assertNoSecret(err: unknown): void {
  const text = `${String(err)} ${inspect(err, { depth: 10 })}`;
  for (const needle of [SECRET, KEY.toString('base64'), KEY.toString('hex'), RAW_SECRET]) {
    assert.ok(!text.includes(needle), `secret leaked into: ${text}`);
  }
}

async function rejection(promise: Promise<unknown>): Promise<NotifyError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof NotifyError, `expected a NotifyError, got ${inspect(err)}`);
    assertNoSecret(err);
    return err;
  }
  assert.fail('expected a rejection');
}

function throws(fn: () => unknown): NotifyError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof NotifyError, `expected a NotifyError, got ${inspect(err)}`);
    assertNoSecret(err);
    return err;
  }
  assert.fail('expected a throw');
}

describe('webhook notifier', () => {
  let ok: Collector;
  before(async () => {
    ok = await startCollector(() => ({ status: 204 }));
  });
  after(() => ok.close());

  it('POSTs the notice as JSON with a Standard Webhooks signature that verifies', async () => {
    const before = ok.requests.length;
    // Extra fields on the caller's object (prompt text, say) never leave the process.
    const leaky = { ...NOTICE, prompt: 'PROMPT-MARKER secret plans' } as IncidentNotice;
    await webhookNotifier({ url: `${ok.url}/hooks/ztgate?x=1`, secret: SECRET }).notify(leaky);
    const seen = ok.requests[before]!;
    assert.equal(seen.method, 'POST');
    assert.equal(seen.path, '/hooks/ztgate?x=1');
    assert.equal(seen.headers['content-type'], 'application/json');
    assert.ok(!seen.body.includes('PROMPT-MARKER'));
    assert.deepEqual(JSON.parse(seen.body), {
      type: 'ztgate.incident',
      timestamp: NOTICE.time,
      data: NOTICE,
    });
    // Fixed key order: the body is exactly this string.
    assert.equal(
      seen.body,
      JSON.stringify({ type: 'ztgate.incident', timestamp: NOTICE.time, data: NOTICE }),
    );
    const id = String(seen.headers['webhook-id']);
    const timestamp = String(seen.headers['webhook-timestamp']);
    assert.match(id, /^msg_[0-9a-f]{32}$/);
    assert.match(timestamp, /^\d+$/);
    assert.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 10);
    // The exact format, recomputed independently: v1,base64(HMAC-SHA256(key, id.timestamp.body)).
    const mac = createHmac('sha256', KEY).update(`${id}.${timestamp}.${seen.body}`).digest('base64');
    assert.equal(seen.headers['webhook-signature'], `v1,${mac}`);
    assert.equal(verifyWebhookSignature(SECRET, seen.headers, seen.body), true);
    assert.equal(
      verifyWebhookSignature(SECRET, new Headers(seen.headers as Record<string, string>), seen.body),
      true,
    );
  });

  it('fails verification for a tampered body, a wrong secret, a stale or future timestamp, missing headers', async () => {
    const before = ok.requests.length;
    await webhookNotifier({ url: ok.url, secret: SECRET }).notify(NOTICE);
    const { headers, body } = ok.requests[before]!;
    const sentAt = Number(headers['webhook-timestamp']) * 1000;
    assert.equal(verifyWebhookSignature(SECRET, headers, Buffer.from(body)), true);
    assert.equal(verifyWebhookSignature(SECRET, headers, body.replace('critical', 'low')), false);
    assert.equal(verifyWebhookSignature(SECRET, headers, `${body} `), false);
    assert.equal(verifyWebhookSignature(`whsec_${randomBytes(32).toString('base64')}`, headers, body), false);
    assert.equal(verifyWebhookSignature(SECRET, headers, body, { now: sentAt + 301_000 }), false);
    assert.equal(verifyWebhookSignature(SECRET, headers, body, { now: sentAt - 301_000 }), false);
    assert.equal(verifyWebhookSignature(SECRET, headers, body, { now: sentAt + 250_000 }), true);
    assert.equal(
      verifyWebhookSignature(SECRET, headers, body, { now: sentAt + 60_000, toleranceSeconds: 30 }),
      false,
    );
    assert.equal(verifyWebhookSignature(SECRET, { ...headers, 'webhook-id': 'msg_other' }, body), false);
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const without = { ...headers };
      delete without[name];
      assert.equal(verifyWebhookSignature(SECRET, without, body), false, name);
    }
    // Several signatures (key rotation): one valid is enough; v2 or garbage entries are skipped.
    const several = { ...headers, 'webhook-signature': `v1,AAAA v2,zzz ${headers['webhook-signature']}` };
    assert.equal(verifyWebhookSignature(SECRET, several, body), true);
  });

  it('signs with a raw (non-whsec_) secret as its UTF-8 bytes', async () => {
    const before = ok.requests.length;
    await webhookNotifier({ url: ok.url, secret: RAW_SECRET }).notify(NOTICE);
    const { headers, body } = ok.requests[before]!;
    const id = String(headers['webhook-id']);
    const ts = String(headers['webhook-timestamp']);
    const mac = createHmac('sha256', Buffer.from(RAW_SECRET)).update(`${id}.${ts}.${body}`).digest('base64');
    assert.equal(headers['webhook-signature'], `v1,${mac}`);
    assert.equal(signWebhook(RAW_SECRET, id, ts, body), `v1,${mac}`);
    assert.equal(verifyWebhookSignature(RAW_SECRET, headers, body), true);
    assert.equal(verifyWebhookSignature(SECRET, headers, body), false);
  });

  it('retries on 503 with the same webhook-id, then succeeds', async () => {
    const flaky = await startCollector((n) => ({ status: n < 2 ? 503 : 200 }));
    try {
      await webhookNotifier({ url: flaky.url, secret: SECRET, retries: 3, backoff: FAST }).notify(NOTICE);
      assert.equal(flaky.requests.length, 3);
      const ids = new Set(flaky.requests.map((r) => r.headers['webhook-id']));
      assert.equal(ids.size, 1);
      for (const r of flaky.requests) assert.equal(verifyWebhookSignature(SECRET, r.headers, r.body), true);
    } finally {
      await flaky.close();
    }
  });

  it('gives up after the retries on a lasting 5xx', async () => {
    const down = await startCollector(() => ({ status: 502, body: `echo ${SECRET}` }));
    try {
      const notifier = webhookNotifier({ url: down.url, secret: SECRET, retries: 2, backoff: FAST });
      const err = await rejection(notifier.notify(NOTICE));
      assert.equal(err.code, 'http_status');
      assert.equal(err.status, 502);
      assert.equal(err.retryable, true);
      assert.equal(down.requests.length, 3);
    } finally {
      await down.close();
    }
  });

  it('does not retry on 400', async () => {
    // The server echoes the signature header back: none of the answer reaches the error.
    const bad = await startCollector((_, r) => ({ status: 400, body: JSON.stringify(r.headers) }));
    try {
      const notifier = webhookNotifier({ url: bad.url, secret: SECRET, retries: 3, backoff: FAST });
      const err = await rejection(notifier.notify(NOTICE));
      assert.equal(err.code, 'http_status');
      assert.equal(err.status, 400);
      assert.equal(err.retryable, false);
      assert.equal(bad.requests.length, 1);
      assert.ok(!err.message.includes(String(bad.requests[0]!.headers['webhook-signature'])));
    } finally {
      await bad.close();
    }
  });

  it('times out on a server that never answers, retrying each attempt', async () => {
    let arrived = 0;
    const server: Server = createServer(() => {
      arrived += 1; // never answers
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const notifier = webhookNotifier({
        url: `http://127.0.0.1:${port}/`,
        secret: SECRET,
        timeoutMs: 150,
        retries: 1,
        backoff: FAST,
      });
      const started = Date.now();
      const err = await rejection(notifier.notify(NOTICE));
      assert.equal(err.code, 'timeout');
      assert.equal(err.retryable, true);
      assert.ok(Date.now() - started < 3000);
      assert.equal(arrived, 2);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('reports an unreachable webhook as unavailable', async () => {
    const port = await unusedPort();
    const notifier = webhookNotifier({
      url: `http://127.0.0.1:${port}/x`,
      secret: SECRET,
      retries: 1,
      backoff: FAST,
    });
    const err = await rejection(notifier.notify(NOTICE));
    assert.equal(err.code, 'unavailable');
    assert.equal(notifier.label, `webhook http://127.0.0.1:${port}`);
  });

  it('uses an injected fetch, and a throwing fetch never leaks the secret', async () => {
    const calls: { url: string; init: RequestInit | undefined }[] = [];
    const fakeFetch = (async (url: Parameters<typeof fetch>[0], init?: RequestInit) => {
      calls.push({ url: String(url), init });
      if (calls.length === 1) throw new TypeError('socket hang up');
      return new Response(null, { status: 200 });
    }) as typeof fetch;
    await webhookNotifier({
      url: 'https://hooks.example.com/a/b',
      secret: SECRET,
      fetch: fakeFetch,
      backoff: FAST,
    }).notify(NOTICE);
    assert.equal(calls.length, 2);
    assert.equal(calls[1]!.url, 'https://hooks.example.com/a/b');
    assert.equal(calls[1]!.init?.method, 'POST');
  });

  it('refuses unusable options without naming the secret', () => {
    assert.equal(
      throws(() => webhookNotifier({ url: 'http://hooks.example.com/', secret: SECRET })).code,
      'invalid_options',
    );
    webhookNotifier({ url: 'http://hooks.example.com/', secret: SECRET, allowPlaintext: true });
    throws(() => webhookNotifier({ url: 'not a url', secret: SECRET }));
    throws(() => webhookNotifier({ url: 'ftp://127.0.0.1/', secret: SECRET }));
    throws(() => webhookNotifier({ url: `https://user:${RAW_SECRET}@hooks.example.com/`, secret: SECRET }));
    throws(() => webhookNotifier({ url: 'https://hooks.example.com/', secret: 'short' }));
    throws(() => webhookNotifier({ url: 'https://hooks.example.com/', secret: `whsec_${RAW_SECRET}!` }));
    throws(() => webhookNotifier({ url: 'https://hooks.example.com/', secret: SECRET, retries: -1 }));
    throws(() => webhookNotifier({ url: 'https://hooks.example.com/', secret: SECRET, timeoutMs: 0 }));
  });

  it('refuses a malformed notice before sending anything', async () => {
    const before = ok.requests.length;
    const notifier = webhookNotifier({ url: ok.url, secret: SECRET });
    for (const bad of [
      { ...NOTICE, severity: 'urgent' },
      { ...NOTICE, time: '2026-03-01 12:00' },
      { ...NOTICE, evidence: 'req-1' },
      { ...NOTICE, subject: { kind: 'principal' } },
      { ...NOTICE, incidentId: '' },
    ]) {
      const err = await rejection(notifier.notify(bad as unknown as IncidentNotice));
      assert.equal(err.code, 'invalid_notice');
    }
    assert.equal(ok.requests.length, before);
  });
});

/** A notice whose values need RFC 5424 PARAM-VALUE escaping. */
const AWKWARD: IncidentNotice = {
  ...NOTICE,
  severity: 'high',
  playbookId: 'pb "quoted" \\ back]slash',
  subject: { kind: 'service', id: 'svc]"\\x é' },
  reason: 'weird ] "reason" \\',
};

function sd(bytes: Buffer) {
  const parsed = parseSyslog(bytes);
  assert.equal(parsed.structuredData.length, 1);
  const element = parsed.structuredData[0]!;
  return { parsed, id: element.id, params: Object.fromEntries(element.params) };
}

describe('syslog notifier', () => {
  it('sends one octet-counted RFC 5424 message over TCP with escaped SD params', async () => {
    const receiver = await startSyslogReceiver();
    try {
      const notifier = syslogNotifier({
        host: '127.0.0.1',
        port: receiver.port,
        transport: 'tcp',
        appName: 'ztgate-watch',
      });
      await notifier.notify(AWKWARD);
      await receiver.waitForFrames(1);
      const frame = receiver.frames[0]!;
      // Escaping on the wire, exactly as RFC 5424 §6.3.3 has it.
      assert.ok(frame.includes('playbook="pb \\"quoted\\" \\\\ back\\]slash"'));
      const { parsed, id, params } = sd(frame);
      assert.equal(parsed.version, 1);
      assert.equal(parsed.facility, 10); // authpriv
      assert.equal(parsed.severity, 3); // high -> error
      assert.equal(parsed.timestamp, NOTICE.time);
      assert.equal(parsed.appName, 'ztgate-watch');
      assert.equal(parsed.procId, String(process.pid));
      assert.equal(parsed.msgId, 'incident');
      assert.equal(id, 'ztgate@32473');
      assert.deepEqual(params, {
        incidentId: AWKWARD.incidentId,
        playbook: AWKWARD.playbookId,
        severity: 'high',
        subjectKind: 'service',
        subjectId: AWKWARD.subject.id,
        actions: 'revoke_tokens,notify',
      });
      assert.ok(parsed.hasBom);
      assert.deepEqual(JSON.parse(parsed.msgText!), AWKWARD);
      assert.equal(notifier.label, `syslog tcp://127.0.0.1:${receiver.port}`);
    } finally {
      await receiver.close();
    }
  });

  it('sends over TLS, verifying the receiver against the given CA', async () => {
    const pki = await makeTestPki('notify test CA');
    const receiver = await startSyslogReceiver(pki.server);
    try {
      const notifier = syslogNotifier({
        host: '127.0.0.1',
        port: receiver.port,
        transport: 'tls',
        ca: pki.caPem,
        facility: 'local4',
      });
      await notifier.notify(NOTICE);
      await receiver.waitForFrames(1);
      const { parsed, params } = sd(receiver.frames[0]!);
      assert.equal(parsed.facility, 20);
      assert.equal(parsed.severity, 2); // critical
      assert.equal(params.incidentId, 'inc-0001');
      // Without the CA, the receiver's certificate is not trusted.
      const untrusting = syslogNotifier({ host: '127.0.0.1', port: receiver.port, transport: 'tls' });
      assert.equal((await rejection(untrusting.notify(NOTICE))).code, 'unavailable');
      assert.equal(receiver.frames.length, 1);
    } finally {
      await receiver.close();
    }
  });

  it('sends one datagram over UDP', async () => {
    const socket = createSocket('udp4');
    const datagrams: Buffer[] = [];
    socket.on('message', (msg) => datagrams.push(msg));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    try {
      const notifier = syslogNotifier({ host: '127.0.0.1', port: socket.address().port, transport: 'udp' });
      await notifier.notify({ ...NOTICE, severity: 'low' });
      await eventually(() => datagrams.length === 1);
      const { parsed, params } = sd(datagrams[0]!); // no octet-count prefix on UDP
      assert.equal(parsed.severity, 5);
      assert.equal(params.subjectId, 'alice@example.com');
    } finally {
      socket.close();
    }
  });

  it('reports an unreachable receiver and refuses unusable options', async () => {
    const port = await unusedPort();
    const err = await rejection(syslogNotifier({ host: '127.0.0.1', port, transport: 'tcp' }).notify(NOTICE));
    assert.equal(err.code, 'unavailable');
    throws(() => syslogNotifier({ host: 'siem.example.com', port: 514, transport: 'tcp' }));
    throws(() => syslogNotifier({ host: 'siem.example.com', port: 514, transport: 'udp' }));
    syslogNotifier({ host: 'siem.example.com', port: 514, transport: 'udp', allowPlaintext: true });
    syslogNotifier({ host: 'siem.example.com', port: 6514, transport: 'tls' });
    throws(() => syslogNotifier({ host: '127.0.0.1', port: 0, transport: 'tcp' }));
    throws(() => syslogNotifier({ host: '127.0.0.1', port: 514, transport: 'sctp' as 'tcp' }));
    throws(() => syslogNotifier({ host: '127.0.0.1', port: 514, transport: 'tcp', appName: 'has space' }));
    throws(() => syslogNotifier({ host: '127.0.0.1', port: 514, transport: 'tcp', sdId: 'noenterprise' }));
  });

  it('refuses a notice larger than maxMessageBytes', async () => {
    const receiver = await startSyslogReceiver();
    try {
      const notifier = syslogNotifier({
        host: '127.0.0.1',
        port: receiver.port,
        transport: 'tcp',
        maxMessageBytes: 1024,
      });
      const big = {
        ...NOTICE,
        evidence: Array.from({ length: 100 }, (_, i) => `req-${i}-${'x'.repeat(20)}`),
      };
      assert.equal((await rejection(notifier.notify(big))).code, 'invalid_notice');
      assert.equal(receiver.connections, 0);
    } finally {
      await receiver.close();
    }
  });
});

describe('createNotifiers and notifyAll', () => {
  it('builds notifiers from config and one failing notifier does not stop the others', async () => {
    const hook = await startCollector(() => ({ status: 200 }));
    const broken = await startCollector(() => ({ status: 500 }));
    const receiver = await startSyslogReceiver();
    const deadPort = await unusedPort();
    try {
      const notifiers = createNotifiers([
        { webhook: `${broken.url}/first`, secret: SECRET, retries: 0 },
        { webhook: `${hook.url}/hook`, secret: SECRET },
        { syslog: { host: '127.0.0.1', port: receiver.port, transport: 'tcp' } },
        { webhook: `http://127.0.0.1:${deadPort}/`, secret: RAW_SECRET, retries: 0 },
      ]);
      const throwing: Notifier = {
        label: 'throws synchronously',
        notify: () => {
          throw new Error('boom');
        },
      };
      const failures: { err: unknown; label: string }[] = [];
      const delivered = await notifyAll([...notifiers, throwing], NOTICE, (err, notifier) => {
        failures.push({ err, label: notifier.label });
        throw new Error('a throwing onError is swallowed too');
      });
      assert.equal(delivered, 2);
      assert.equal(hook.requests.length, 1);
      assert.equal(verifyWebhookSignature(SECRET, hook.requests[0]!.headers, hook.requests[0]!.body), true);
      await receiver.waitForFrames(1);
      assert.equal(sd(receiver.frames[0]!).params.incidentId, 'inc-0001');
      assert.equal(broken.requests.length, 1);
      assert.deepEqual(
        failures.map((f) => f.label).sort(),
        [`webhook ${broken.url}`, `webhook http://127.0.0.1:${deadPort}`, 'throws synchronously'].sort(),
      );
      for (const { err } of failures) assertNoSecret(err);
    } finally {
      await Promise.all([hook.close(), broken.close(), receiver.close()]);
    }
  });

  it('notifyAll with no notifiers, or a malformed notice, still never throws', async () => {
    assert.equal(await notifyAll([], NOTICE, () => assert.fail('no notifier, no error')), 0);
    const errors: unknown[] = [];
    const notifiers = createNotifiers([{ webhook: 'https://hooks.example.com/', secret: SECRET }]);
    const bad = { ...NOTICE, severity: 'nope' } as unknown as IncidentNotice;
    assert.equal(await notifyAll(notifiers, bad, (err) => errors.push(err)), 0);
    assert.equal((errors[0] as NotifyError).code, 'invalid_notice');
  });

  it('names the bad config entry, never its secret', () => {
    const err = throws(() =>
      createNotifiers([
        { syslog: { host: '127.0.0.1', port: 514, transport: 'udp' } },
        { webhook: 'http://hooks.example.com/', secret: SECRET },
      ]),
    );
    assert.equal(err.code, 'invalid_options');
    assert.match(err.message, /^notifiers\[1\]: /);
    assert.match(
      throws(() => createNotifiers([{ webhook: 'https://x.example/', secret: RAW_SECRET.slice(0, 5) }]))
        .message,
      /notifiers\[0\]/,
    );
    throws(() => createNotifiers([{} as never]));
    throws(() => createNotifiers([{ webhook: 'https://x.example/', secret: SECRET, syslog: {} } as never]));
  });
});
