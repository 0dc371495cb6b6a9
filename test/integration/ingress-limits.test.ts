import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

/** Bad input gets a clear error with a stable code, and the gateway keeps serving. */
describe('ingress limits and malformed input', () => {
  let t: TestGateway;
  let token: string;

  before(async () => {
    t = await startTestGateway({
      yaml: `
limits: { messages: 8, jsonDepth: 16, headerBytes: 4096, headersTimeoutMs: 400, requestTimeoutMs: 600 }
`,
    });
    token = await t.token('bob');
  });
  after(() => t.close());

  async function send(body: string | Buffer, headers: Record<string, string> = {}) {
    const res = await fetch(`${t.gw.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      body,
    });
    const text = await res.text();
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      code = undefined;
    }
    return { status: res.status, code, text };
  }

  const ok = (content = 'hi') => JSON.stringify({ model: 'demo', messages: [{ role: 'user', content }] });

  it('a well-formed request passes (control)', async () => {
    const res = await send(ok());
    assert.equal(res.status, 200, res.text);
  });

  it('malformed JSON → 400 invalid_json', async () => {
    const res = await send('{"model": "demo", "messages": [');
    assert.deepEqual([res.status, res.code], [400, 'invalid_json']);
  });

  it('a body over the limit (default 1 MiB) → 413 body_too_large', async () => {
    const res = await send(ok('x'.repeat(1024 * 1024 + 10)));
    assert.deepEqual([res.status, res.code], [413, 'body_too_large']);
  });

  it('nesting deeper than the limit → 400 json_too_deep, without parsing it', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const res = await send(`{"model":"demo","messages":[{"role":"user","content":"x"}],"x":${deep}}`);
    assert.deepEqual([res.status, res.code], [400, 'json_too_deep']);
  });

  it('too many messages → 400 too_many_messages', async () => {
    const messages = Array.from({ length: 9 }, () => ({ role: 'user', content: 'x' }));
    const res = await send(JSON.stringify({ model: 'demo', messages }));
    assert.deepEqual([res.status, res.code], [400, 'too_many_messages']);
  });

  it('schema violations name the field → 400 invalid_request', async () => {
    const res = await send(JSON.stringify({ model: 'demo', messages: 'hello' }));
    assert.deepEqual([res.status, res.code], [400, 'invalid_request']);
    assert.match(res.text, /messages/);
    const res2 = await send(
      JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'x' }], stream: 'yes' }),
    );
    assert.deepEqual([res2.status, res2.code], [400, 'invalid_request']);
    const res3 = await send('[1,2,3]');
    assert.deepEqual([res3.status, res3.code], [400, 'invalid_request']);
  });

  it('invalid UTF-8 → 400 invalid_unicode; lone surrogates → 400 invalid_unicode', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"model":"demo","messages":[{"role":"user","content":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}]}'),
    ]);
    const res = await send(bytes);
    assert.deepEqual([res.status, res.code], [400, 'invalid_unicode']);
    const res2 = await send('{"model":"demo","messages":[{"role":"user","content":"\\ud800 lone"}]}');
    assert.deepEqual([res2.status, res2.code], [400, 'invalid_unicode']);
  });

  it('hostile but valid Unicode (bidi controls, zero-width, combining marks) is accepted and passed through', async () => {
    const res = await send(ok('a\u202Eb\u200Bc' + 'e\u0301'.repeat(1000)));
    assert.equal(res.status, 200);
  });

  it('wrong content type → 415 unsupported_media_type', async () => {
    const res = await send(ok(), { 'content-type': 'text/plain' });
    assert.deepEqual([res.status, res.code], [415, 'unsupported_media_type']);
  });

  it('oversized headers → 431 headers_too_large', async () => {
    const res = await send(ok(), { 'x-filler': 'y'.repeat(8000) });
    assert.deepEqual([res.status, res.code], [431, 'headers_too_large']);
  });

  it('unknown endpoint → 404 route_not_found', async () => {
    const res = await fetch(`${t.gw.dataUrl}/v1/nope`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'route_not_found');
  });

  it('a slow client that never finishes its headers is cut off with 408 request_timeout', async () => {
    const url = new URL(t.gw.dataUrl);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n');
      });
      let data = '';
      socket.on('data', (d) => (data += d.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
      setTimeout(() => reject(new Error('not cut off')), 5000).unref();
    });
    assert.match(answer, /^HTTP\/1\.1 408/);
    assert.match(answer, /request_timeout/);
  });

  it('a slow client that stops sending its body is cut off', async () => {
    const url = new URL(t.gw.dataUrl);
    const started = Date.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(
          `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":`,
        );
      });
      let data = '';
      socket.on('data', (d) => (data += d.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
      setTimeout(() => reject(new Error('not cut off')), 8000).unref();
    });
    assert.ok(Date.now() - started < 8000);
    assert.match(answer, /^HTTP\/1\.1 408|^$/);
  });

  it('still serves after all of the above', async () => {
    const res = await send(ok());
    assert.equal(res.status, 200);
  });
});
