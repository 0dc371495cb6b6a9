import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/ztgate.js', import.meta.url));
const homes: string[] = [];

async function tempHome(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'ztgate-cli-'));
  homes.push(home);
  return home;
}

function waitForLine(
  child: ChildProcessWithoutNullStreams,
  pattern: RegExp,
  timeoutMs = 20_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${pattern}; got:\n${out}`)),
      timeoutMs,
    );
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before ${pattern}; got:\n${out}`));
    });
  });
}

describe('the ztgate command', () => {
  after(async () => {
    for (const h of homes) await rm(h, { recursive: true, force: true });
  });

  it('up --demo creates the home, prints the listening line and a curl command that works', async () => {
    const home = await tempHome();
    const child = spawn(
      process.execPath,
      [BIN, 'up', '--demo', '--home', home, '--port', '0', '--admin-port', '0'],
      {
        env: { ...process.env, ZTGATE_DEMO_ISSUER_PORT: '0', ZTGATE_DEMO_MODEL_PORT: '0' },
      },
    );
    try {
      const out = await waitForLine(child, /-d '\{.*\}'\n/);
      const url = /ztgate listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      assert.ok(url, out);
      assert.ok(existsSync(join(home, 'ztgate.yaml')));
      assert.ok(existsSync(join(home, 'ztgate.db')));
      assert.ok(existsSync(join(home, 'keys', 'demo-issuer.jwks.json')));
      assert.equal(statSync(home).mode & 0o077, 0, 'home is private');

      const start = out.indexOf('  curl ');
      const curl = out.slice(start).split('\n').slice(0, 4).join('\n');
      const result = spawnSync('sh', ['-c', curl], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(result.status, 0, result.stderr);
      const answer = JSON.parse(result.stdout) as { choices: { message: { content: string } }[] };
      assert.match(answer.choices[0]!.message.content, /Alice Smith/);

      const admin = /admin \(health, readiness, metrics, console\) on (http:\/\/\S+)/.exec(out)?.[1];
      const consoleUrl = /security console: (http:\/\/\S+\/console\/)/.exec(out)?.[1];
      assert.ok(consoleUrl, out);
      const page = await fetch(consoleUrl);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      await page.body?.cancel();
      const ready = await fetch(`${admin}/readyz`);
      assert.equal(ready.status, 200, await ready.text());
      const metrics = await (await fetch(`${admin}/metrics`)).text();
      assert.match(metrics, /ztgate_http_requests_total\{route="\/v1\/chat\/completions",status="200"\} 1/);
      assert.match(metrics, /ztgate_stage_duration_seconds_bucket\{le="[^"]+",stage="authenticate"\}/);
      assert.match(metrics, /ztgate_upstream_duration_seconds_count\{upstream="demo",outcome="ok"\} 1/);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0);
  });

  it('a bad config stops the start with a non-zero exit naming the key', async () => {
    const home = await tempHome();
    await writeFile(join(home, 'ztgate.yaml'), 'server:\n  port: 0\n  adminPort: 0\n  colour: blue\n');
    const result = spawnSync(process.execPath, [BIN, 'up', '--home', home], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /server\.colour: unknown key/);
    assert.doesNotMatch(result.stdout, /listening/);
    assert.ok(!existsSync(join(home, 'ztgate.db')), 'nothing was started');
  });

  it('config check validates without starting', async () => {
    const home = await tempHome();
    await writeFile(join(home, 'ztgate.yaml'), 'store:\n  url: "sqlite:x.db"\n');
    const ok = spawnSync(process.execPath, [BIN, 'config', 'check', '--home', home], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    await writeFile(
      join(home, 'ztgate.yaml'),
      'upstreams:\n  a: { kind: openai-compatible, baseUrl: "http://x/v1", apiKey: "sk-raw" }\n',
    );
    const bad = spawnSync(process.execPath, [BIN, 'config', 'check', '--home', home], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /upstreams\.a\.apiKey/);
    assert.doesNotMatch(bad.stderr, /sk-raw/);
    assert.ok(!existsSync(join(home, 'x.db')));
  });

  it('token without a running demo says so', async () => {
    const home = await tempHome();
    const result = spawnSync(process.execPath, [BIN, 'token', '--home', home, '--user', 'a'], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /no demo identity provider is running/);
  });
});
