import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createSecretRecognizer,
  SECRET_RULES,
  DATASET_RULE_ALIASES,
} from '../../../src/guard/secrets/index.js';

const recognizer = createSecretRecognizer();

function rulesIn(text: string): string[] {
  return [...new Set(recognizer.detect(text).map((d) => d.rule ?? ''))];
}

function spanOf(text: string, rule: string): string | undefined {
  const d = recognizer.detect(text).find((x) => x.rule === rule);
  return d === undefined ? undefined : text.slice(d.start, d.end);
}

// Fake tokens built at run time so that no literal secret sits in the repository.
const r36 = 'aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4';
const hex32 = '9f2c4e6a8b1d3f5a7c9e0b2d4f6a8c1e';

test('families: cloud, vcs-ci, chat, payment, ai', () => {
  assert.deepEqual(rulesIn('const k = "AKIA' + 'Q3E5R7T2Y4U6I2O3";'), ['aws-access-key-id']);
  assert.ok(rulesIn(`token: gh${'p'}_${r36}`).includes('github-token'));
  assert.ok(rulesIn(`GITLAB=glpat-${r36.slice(0, 20)}`).includes('gitlab-token'));
  assert.ok(rulesIn(`xox${'b'}-123456789012-1234567890123-${r36.slice(0, 24)}`).includes('slack-token'));
  assert.ok(rulesIn(`s${'k'}_live_${r36.slice(0, 24)}`).includes('stripe-secret-key'));
  assert.ok(
    rulesIn(`s${'k'}-proj-${r36.slice(0, 20)}T3Blbk${'FJ'}${r36.slice(0, 20)}`).includes('openai-api-key'),
  );
  assert.ok(rulesIn(`h${'f'}_${'AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh'}`).includes('huggingface-access-token'));
});

test('context rules need the service name nearby', () => {
  const value = 'k3j9x0p2m5n8q1w4e7r6t2y8';
  assert.equal(spanOf(`ETSY_API_KEY=${value}`, 'etsy-access-token'), value);
  assert.equal(spanOf(`UNRELATED=${value}`, 'etsy-access-token'), undefined);
  // a keyword inside a longer word does not count (cameraKit holds "meraki")
  assert.equal(spanOf(`ReactNativeCameraKit: ${hex32}abcd1234`, 'cisco-meraki-api-key'), undefined);
});

test('private keys, JWTs and connection strings', () => {
  const pem = `-----BEGIN RSA PRIVATE ${'KEY'}-----\n${'MIIEpQIBAAKCAQEAn6O8li+SX4m98LLYt'.repeat(3)}\n-----END RSA PRIVATE KEY-----`;
  assert.deepEqual(rulesIn(pem), ['private-key']);
  assert.deepEqual(rulesIn('-----BEGIN OPENSSH PRIVATE KEY----------END OPENSSH PRIVATE KEY-----'), []);
  assert.deepEqual(
    rulesIn(
      '-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----',
    ),
    [],
  );
  const header = Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url');
  const payload = Buffer.from('{"sub":"1234567890","name":"x"}').toString('base64url');
  const jwt = `${header}.${payload}.${'c2lnbmF0dXJlLXZhbHVlLTEyMzQ1Njc4OTA'}`;
  assert.equal(spanOf(`Authorization: Bearer ${jwt}`, 'jwt'), jwt);
  assert.equal(spanOf(`eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ.${payload}.abc`, 'jwt'), undefined);
  assert.equal(
    spanOf('DATABASE_URL=postgres://app:S3cr3t-Pa55@db.internal:5432/app', 'url-credentials'),
    'S3cr3t-Pa55',
  );
  assert.equal(
    spanOf('mongodb+srv://user:${MONGO_PASSWORD}@cluster0.example.net', 'url-credentials'),
    undefined,
  );
  assert.equal(spanOf('https://url:8000/ @something else', 'url-credentials'), undefined);
});

test('assignments: offsets are the value, not the key', () => {
  const text = 'db_password = "Zq9!vX2#mL7p"';
  const d = recognizer.detect(text).find((x) => x.rule === 'password-assignment');
  assert.ok(d);
  assert.equal(text.slice(d.start, d.end), 'Zq9!vX2#mL7p');
  assert.equal(d.type, 'SECRET');
  assert.equal(d.recognizer, 'secret');
  const generic = "export SERVICE_TOKEN='Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB'";
  assert.equal(spanOf(generic, 'generic-secret-assignment'), 'Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB');
});

test('offsets are UTF-16 indices after non-ASCII text', () => {
  const text = 'mot de passe 🔑 é: api_key = "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB"';
  const d = recognizer.detect(text).find((x) => x.rule === 'generic-secret-assignment');
  assert.ok(d);
  assert.equal(text.slice(d.start, d.end), 'Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB');
});

test('placeholders and near misses are not flagged', () => {
  for (const text of [
    'password = changeme',
    'api_key = "xxxxxxxxxxxxxxxxxxxx"',
    'secret: ${API_SECRET}',
    'token = <your-token-here>',
    'password: "********"',
    'api_key = ""',
    'secret_length = X25519.secret_length',
    `gh${'p'}_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
    'curl -u "$USER:$PASS" https://example.com',
    'Authorization: Bearer XXXXXXXXXXXX',
    "schemaKey = 'DOC_Vector_5_32'",
    'kms_key_id: "555ea4a3-d53a-4412-9c66-3a7cb667b0d6"',
  ]) {
    assert.deepEqual(rulesIn(text), [], text);
  }
});

test('rule table: ids unique, families set, aliases point at real rules', () => {
  const ids = new Set<string>();
  for (const r of SECRET_RULES) {
    assert.ok(!ids.has(r.id), r.id);
    ids.add(r.id);
  }
  ids.add('password-assignment');
  ids.add('high-entropy-assignment');
  for (const [name, targets] of Object.entries(DATASET_RULE_ALIASES)) {
    for (const t of targets) assert.ok(ids.has(t), `${name} → ${t}`);
  }
});
