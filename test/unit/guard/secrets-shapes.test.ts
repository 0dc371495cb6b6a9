import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSecretRecognizer } from '../../../src/guard/secrets/index.js';
import {
  GITLAB_MAX_PLAIN_BODY,
  plausibleGitlabToken,
  readMacaroon,
} from '../../../src/guard/secrets/rules/token-shapes.js';

const recognizer = createSecretRecognizer();

function spanOf(text: string, rule: string): string | undefined {
  const d = recognizer.detect(text).find((x) => x.rule === rule);
  return d === undefined ? undefined : text.slice(d.start, d.end);
}

// Fake token material built at run time so that no literal secret sits in the repository.
const alnum = 'aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4cD6eF8gH0iJ2kL4mN6pQ8rS0tU2vW4xY6z';

function bodyOf(length: number): string {
  return alnum.repeat(2).slice(0, length);
}

test('GitLab: a plain token body is at most 50 characters', () => {
  const longest = `gl${'soat'}-${bodyOf(GITLAB_MAX_PLAIN_BODY)}`;
  const tooLong = `gl${'soat'}-${bodyOf(GITLAB_MAX_PLAIN_BODY + 1)}`;
  assert.equal(plausibleGitlabToken(longest), true);
  assert.equal(plausibleGitlabToken(tooLong), false);
  assert.equal(spanOf(`token: ${longest}`, 'gitlab-token'), longest);
  assert.equal(spanOf(`token: ${tooLong}`, 'gitlab-token'), undefined);
});

test('GitLab: routable tokens (with a dot) may be longer', () => {
  const routable = `gl${'pat'}-${bodyOf(60)}.01${bodyOf(7).toLowerCase()}`;
  assert.equal(plausibleGitlabToken(routable), true);
  assert.equal(spanOf(`GITLAB_TOKEN=${routable}`, 'gitlab-token'), routable);
});

/** A PyPI-style v2 macaroon: location, identifier, one caveat, signature. */
function macaroon(): Buffer {
  const field = (type: number, data: Buffer): Buffer =>
    Buffer.concat([Buffer.from([type, data.length]), data]);
  const eos = Buffer.from([0]);
  return Buffer.concat([
    Buffer.from([2]),
    field(1, Buffer.from('pypi.org')),
    field(2, Buffer.from('5f0c2a4e-7b1d-4c3e-9a8f-6d2b1e0c9f7a')),
    eos,
    field(2, Buffer.from('{"version": 1, "permissions": "user"}')),
    eos,
    eos,
    field(6, Buffer.alloc(32, 0xa7)),
  ]);
}

test('PyPI: readMacaroon tells a whole token from a cut-off one', () => {
  const whole = macaroon();
  assert.equal(readMacaroon(whole), 'signed');
  assert.equal(readMacaroon(whole.subarray(0, 60)), 'cut-off');
  assert.equal(readMacaroon(Buffer.from('not a macaroon at all')), 'not-a-macaroon');
  // the header alone (no readable identifier yet) is not judged
  assert.equal(readMacaroon(whole.subarray(0, 11)), 'not-a-macaroon');
});

test('PyPI: a cut-off token is not reported, a whole or unparsed one is', () => {
  const whole = `pypi-${macaroon().toString('base64url')}`;
  const cut = whole.slice(0, 90);
  const unparsed = `pypi-${'AgEIcHlwaS5vcmc'}${'9f2c4e6a8b1d3f5a'.repeat(4)}`;
  assert.equal(spanOf(`PYPI_TOKEN=${whole}`, 'pypi-upload-token'), whole);
  assert.equal(spanOf(`PYPI_TOKEN=${unparsed}`, 'pypi-upload-token'), unparsed);
  assert.equal(spanOf(`PYPI_TOKEN=${cut}`, 'pypi-upload-token'), undefined);
});

test('high-entropy values assigned to a public name are not secrets', () => {
  const value = 'gX69YO4CvBsVjzAwYxdGyDd30t5q9ez31gKATtj4';
  assert.equal(spanOf(`mimi = "${value}"`, 'high-entropy-assignment'), value);
  assert.equal(spanOf(`public_key = "${value}"`, 'high-entropy-assignment'), undefined);
  assert.equal(spanOf(`pub.key = "${value}"`, 'high-entropy-assignment'), undefined);
});
