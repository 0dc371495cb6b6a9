import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../../src/config/index.js';

function problems(yaml: string): string {
  try {
    parseConfig(yaml);
    return '';
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
}

describe('mesh configuration', () => {
  it('has safe defaults: off, 24 h SVIDs, the built-in CA', () => {
    const config = parseConfig('');
    assert.deepEqual(config.mesh, { enabled: false, name: 'ztgate', svidTtl: 86_400_000 });
    assert.equal(config.server.adminTls, false);
    assert.equal(config.server.tls, undefined);
  });

  it('accepts a full mesh configuration', () => {
    const config = parseConfig(`
mesh: { enabled: true, trustDomain: spire.example, svidTtl: 12h, trustBundle: "file:bundle.json" }
server:
  tls: { clientCertificates: required, allowedSpiffeIds: ["spiffe://spire.example/agent/*"] }
  adminTls: true
  adminAllowedSpiffeIds: ["spiffe://spire.example/ops/alice"]
upstreams:
  vllm: { kind: openai-compatible, baseUrl: "https://vllm:8443/v1", mtls: { spiffeIds: ["spiffe://spire.example/model/vllm"] } }
`);
    assert.equal(config.mesh.svidTtl, 12 * 3_600_000);
    assert.equal(config.server.tls?.clientCertificates, 'required');
    assert.deepEqual(config.upstreams.vllm?.mtls?.spiffeIds, ['spiffe://spire.example/model/vllm']);
  });

  it('refuses mesh features while the mesh is off, and an admin listener without an allow-list', () => {
    const text = problems(`
server: { tls: {}, adminTls: true }
upstreams:
  u: { kind: openai-compatible, baseUrl: "http://u/v1", ca: "file:ca.pem", mtls: { spiffeIds: ["spiffe://td/model/u"] } }
`);
    assert.match(text, /server\.tls: TLS on the data plane needs mesh\.enabled: true/);
    assert.match(text, /server\.adminTls: mutual TLS on the admin listener needs mesh\.enabled: true/);
    assert.match(text, /server\.adminAllowedSpiffeIds: required/);
    assert.match(text, /upstreams\.u\.mtls: mutual TLS to an upstream needs mesh\.enabled/);
    assert.match(text, /upstreams\.u\.baseUrl: must be https: with mtls/);
    assert.match(text, /upstreams\.u\.ca: not used with mtls/);
  });

  it('refuses malformed SPIFFE IDs, a bundle without its trust domain, and odd lifetimes', () => {
    const bad = [
      'server: { adminAllowedSpiffeIds: ["spiffe://TD/a"] }',
      'server: { adminAllowedSpiffeIds: ["spiffe://td"] }',
      'server: { adminAllowedSpiffeIds: ["spiffe://td/a/../b"] }',
      'server: { adminAllowedSpiffeIds: ["spiffe://td/*/b"] }',
      'mesh: { trustBundle: "file:x.pem" }',
      'mesh: { trustBundle: "/etc/x.pem", trustDomain: td }',
      'mesh: { svidTtl: 500 }',
      'mesh: { svidTtl: 31d }',
      'mesh: { name: "a/b" }',
    ];
    for (const yaml of bad) assert.notEqual(problems(yaml), '', yaml);
  });
});
