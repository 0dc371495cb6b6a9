// The security console end to end, in headless Chromium (Debian's `chromium`, driven by
// playwright-core): sign in with the demo OIDC provider (authorization code + PKCE), find an audit
// entry and see its inclusion proof verified in the browser, see a tampered entry flagged, approve
// a held tool call, release a quarantine with two administrators, run a policy simulation. Each
// test saves a screenshot in docs/screenshots/.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { formatVerifierKey } from '../../src/ledger/note.js';
import { DEFAULT_LEDGER_ORIGIN, LEDGER_SIGNING_KEY } from '../../src/ledger/signing.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const SCREENSHOTS = new URL('../../docs/screenshots/', import.meta.url);
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

// Run in the page (strings: this file is type-checked without the DOM library).
/** Form controls and buttons without an accessible name (label, aria-label(ledby) or text). */
const UNNAMED_CONTROLS = `[...document.querySelectorAll('input, select, textarea, button')]
  .filter((e) => !(e.labels?.length > 0 || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')
    || (e.tagName === 'BUTTON' && e.textContent.trim() !== '')) && e.type !== 'hidden')
  .map((e) => e.outerHTML.slice(0, 80))`;
/**
 * Text whose contrast with its background is below WCAG AA (4.5:1, 3:1 for large text): every
 * visible element with its own text, against the nearest ancestor with an opaque background.
 */
const LOW_CONTRAST = `(() => {
  const rgb = (c) => (c.match(/[0-9.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
  const bg = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.length === 3 || c[3] > 0.9) return c; } return [255, 255, 255]; };
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== '');
    const s = getComputedStyle(el);
    if (!own || s.visibility === 'hidden' || s.display === 'none' || el.closest('.visually-hidden')) continue;
    const r = el.getBoundingClientRect(); if (r.width === 0 || r.height === 0) continue;
    const [a, b] = [lum(rgb(s.color)), lum(bg(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const large = parseFloat(s.fontSize) >= 24 || (parseFloat(s.fontSize) >= 18.66 && Number(s.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) out.push(el.tagName + ' "' + el.textContent.trim().slice(0, 30) + '" ' + ratio.toFixed(2));
  }
  return out;
})()`;
/** The class of the first focusable element in document order. */
const FIRST_FOCUSABLE_CLASS = `document.querySelector('a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])')?.className`;

/** `tools` proposes a wire transfer (held for approval); anything else answers plainly. */
function scriptedUpstream(): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model: string };
      const message =
        body.model === 'tools'
          ? {
              content: null,
              tool_calls: [
                {
                  id: 'call_9',
                  type: 'function',
                  function: { name: 'wire_transfer', arguments: '{"amount":9000}' },
                },
              ],
            }
          : { content: 'A plain answer.' };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'c1',
          object: 'chat.completion',
          created: 1,
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: 'stop' }],
        }),
      );
    });
  });
}

describe('security console in Chromium', () => {
  let t: TestGateway;
  let browser: Browser;
  let bundle: string;
  let upstream: Server;
  let verifierKey: string;

  before(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    upstream = scriptedUpstream();
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    bundle = await mkdtemp(join(tmpdir(), 'ztgate-console-bundle-'));
    await cp(new URL('../../examples/policies/default', import.meta.url), bundle, { recursive: true });
    await writeFile(
      join(bundle, 'tools.cedar'),
      `@id("transfers-need-approval") @obligation("require_approval")
permit (principal, action == Ztgate::Action::"invoke_tool", resource == Ztgate::Tool::"wire_transfer");\n`,
    );
    const entities = JSON.parse(await readFile(join(bundle, 'entities.json'), 'utf8')) as unknown[];
    entities.push({
      uid: { type: 'Ztgate::Tool', id: 'wire_transfer' },
      attrs: { risk: 'high' },
      parents: [],
    });
    await writeFile(join(bundle, 'entities.json'), JSON.stringify(entities));
    t = await startTestGateway({
      yaml: `
policy: { bundle: "${bundle}", watch: false }
upstreams:
  scripted: { kind: openai-compatible, baseUrl: "http://127.0.0.1:${port}/v1", retries: 0 }
models:
  - { id: plain, upstream: scripted, upstreamModel: plain, attributes: { runtimeKind: on_prem } }
  - { id: tools, upstream: scripted, upstreamModel: tools, attributes: { runtimeKind: on_prem } }
`,
    });
    const key = await t.gw.keys.provider.publicKey({
      name: LEDGER_SIGNING_KEY,
      version: (await t.gw.keys.describeKey(LEDGER_SIGNING_KEY)).primaryVersion,
    });
    verifierKey = formatVerifierKey(DEFAULT_LEDGER_ORIGIN, createPublicKey(key.spkiPem));
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
  });

  after(async () => {
    await browser?.close();
    await t?.close();
    await new Promise((r) => upstream?.close(r));
    await rm(bundle, { recursive: true, force: true });
  });

  const chat = async (user: string, model: string, content: string) => {
    const token = await t.token(user);
    const res = await fetch(`${t.gw.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
    });
    return (await res.json()) as {
      choices: { message: { ztgate_pending_approvals?: { approval_id: string }[] } }[];
    };
  };

  /** Signs in through the demo provider's login and consent pages; returns the signed-in page. */
  async function signIn(user: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${t.gw.adminUrl}/console/`);
    await page.getByTestId('signin').click();
    await page.waitForSelector('input[name=login]');
    await page.fill('input[name=login]', user);
    if (await page.$('input[name=password]')) await page.fill('input[name=password]', 'demo');
    await page.click('button[type=submit]');
    // oidc-provider's consent page, when it asks.
    for (let i = 0; i < 3 && !page.url().startsWith(`${t.gw.adminUrl}/console`); i++) {
      await page.waitForLoadState();
      if (page.url().startsWith(`${t.gw.adminUrl}/console`)) break;
      const button = await page.$('button[type=submit]');
      if (button) await button.click();
    }
    await page.waitForURL(`${t.gw.adminUrl}/console/**`);
    await page.getByTestId('signout').waitFor();
    return { context, page };
  }

  /** Opens the first result's detail and asks the browser to verify its inclusion proof. */
  async function openAndVerify(page: Page): Promise<void> {
    await page
      .getByTestId('ledger-row')
      .first()
      .getByRole('button', { name: /Details/ })
      .click();
    await page.getByRole('button', { name: 'Verify inclusion' }).click();
  }

  /**
   * The proof status once the browser's verification has finished. An entry newer than the latest
   * signed checkpoint (signed every second) is checked again until a checkpoint covers it.
   */
  async function proofStatus(page: Page): Promise<string> {
    const status = page.getByTestId('proof-status');
    const deadline = Date.now() + 20_000;
    for (;;) {
      const text = ((await status.textContent({ timeout: 20_000 })) ?? '').trim();
      if (/not in the latest checkpoint/.test(text) && Date.now() < deadline) {
        await page.waitForTimeout(500);
        await page.getByRole('button', { name: 'Verify inclusion' }).click();
        continue;
      }
      if (/^(verified|failed)/.test(text) || Date.now() > deadline) return text;
      await page.waitForTimeout(200);
    }
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname });

  it('signs in with OIDC (code + PKCE) and shows the overview; strict CSP holds, every page is labelled and keyboard-usable', async () => {
    await chat('olga', 'plain', 'hello');
    const { context, page } = await signIn('admin-ann');
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    const csp = (await page.request.get(`${t.gw.adminUrl}/console/`)).headers()['content-security-policy'];
    assert.match(csp ?? '', /script-src 'self'/);
    assert.doesNotMatch(csp ?? '', /unsafe-inline|unsafe-eval/);
    for (const nav of ['nav-ledger', 'nav-policies', 'nav-incidents', 'nav-runtimes', 'nav-overview']) {
      await page.getByTestId(nav).click();
      await page.getByRole('heading', { level: 1 }).waitFor();
      // Every form control has an accessible name; every button says what it does.
      const unnamed = (await page.evaluate(UNNAMED_CONTROLS)) as string[];
      assert.deepEqual(unnamed, [], `unlabelled controls on ${nav}`);
      assert.deepEqual(await page.evaluate(LOW_CONTRAST), [], `text below WCAG AA contrast on ${nav}`);
    }
    // Keyboard: the first focusable element is the skip link, and following it focuses the main content.
    const first = (await page.evaluate(FIRST_FOCUSABLE_CLASS)) as string | undefined;
    assert.match(first ?? '', /skip-link/);
    await page.locator('.skip-link').focus();
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate("document.activeElement?.closest('main') !== null"), true);
    assert.deepEqual(violations, [], 'no Content-Security-Policy violations');
    await shot(page, 'overview');
    await context.close();
  });

  it('finds an audit entry and verifies its inclusion proof in the browser; a tampered entry is flagged', async () => {
    await chat('petra', 'plain', 'what is our leave policy?');
    const { context, page } = await signIn('admin-ann');
    await page.getByTestId('nav-ledger').click();
    await page.getByTestId('verifier-key').fill(verifierKey);
    await page.getByTestId('verifier-key').press('Tab');
    await page.getByText(/SHA-256 fingerprint/).waitFor();
    await page.getByLabel(/principal/i).fill(`${t.gw.demoIssuer}#petra`);
    await page.getByTestId('ledger-search').click();
    await openAndVerify(page);
    assert.match(await proofStatus(page), /^verified/);
    await shot(page, 'ledger-verified');

    // Change the stored leaf in the database: the browser's own verification flags it.
    const db = new Database(join(t.home, 'ztgate.db'));
    const row = db
      .prepare(`select idx as i, leaf from ledger_leaves where principal_id = ? order by idx desc limit 1`)
      .get(`${t.gw.demoIssuer}#petra`) as { i: number; leaf: string } | undefined;
    assert.ok(row);
    db.prepare('update ledger_leaves set leaf = ? where idx = ?').run(
      row.leaf.replace('"chat"', '"chaT"'),
      row.i,
    );
    db.close();
    await page.getByTestId('ledger-search').click();
    await openAndVerify(page);
    assert.match(await proofStatus(page), /^failed/);
    await shot(page, 'ledger-tampered');
    await context.close();
  });

  it('approves a held tool call', async () => {
    const answer = await chat('carol', 'tools', 'pay the invoice');
    const id = answer.choices[0]?.message.ztgate_pending_approvals?.[0]?.approval_id;
    assert.ok(id);
    const { context, page } = await signIn('admin-ann');
    await page.getByTestId('nav-incidents').click();
    const row = page.getByTestId('approval-row').filter({ hasText: 'wire_transfer' }).first();
    await row.getByTestId('approve').click();
    for (let i = 0; i < 100 && (await t.gw.approvals.get(id))?.status === 'pending'; i++)
      await page.waitForTimeout(100);
    assert.equal((await t.gw.approvals.get(id))?.status, 'approved');
    await shot(page, 'approval');
    const claim = await fetch(`${t.gw.dataUrl}/v1/ztgate/approvals/${id}`, {
      headers: { authorization: `Bearer ${await t.token('carol')}` },
    });
    assert.equal(((await claim.json()) as { status: string }).status, 'released');
    await context.close();
  });

  it('releases a quarantine only with two administrators', async () => {
    const target = `${t.gw.demoIssuer}#mallory`;
    await t.gw.watch.quarantines.quarantine({
      target: { kind: 'principal', id: target },
      reason: 'e2e: playbook stand-in',
      actor: 'test',
    });
    const ann = await signIn('admin-ann');
    await ann.page.getByTestId('nav-incidents').click();
    await ann.page
      .getByTestId('quarantine-row')
      .filter({ hasText: 'mallory' })
      .getByTestId('release')
      .click();
    await ann.page
      .getByTestId('release-status')
      .filter({ hasText: /second administrator/i })
      .waitFor();
    assert.ok(t.gw.watch.quarantines.get({ kind: 'principal', id: target }), 'still quarantined after one');
    const bob = await signIn('admin-bob');
    await bob.page.getByTestId('nav-incidents').click();
    await bob.page
      .getByTestId('quarantine-row')
      .filter({ hasText: 'mallory' })
      .getByTestId('release')
      .click();
    // Released: the row leaves the list (the console reloads it), and the gateway no longer holds it.
    await bob.page
      .getByTestId('quarantine-row')
      .filter({ hasText: 'mallory' })
      .waitFor({ state: 'detached' });
    await shot(bob.page, 'quarantine-release');
    assert.equal(t.gw.watch.quarantines.get({ kind: 'principal', id: target }), undefined);
    await ann.context.close();
    await bob.context.close();
  });

  it('runs a policy simulation against recorded traffic and shows the differences', async () => {
    const { context, page } = await signIn('admin-ann');
    await page.getByTestId('nav-policies').click();
    const candidate = `${await readFile(join(bundle, 'policies.cedar'), 'utf8')}
@id("no-plain") forbid (principal, action, resource == Ztgate::Model::"plain");\n`;
    await page.getByLabel(/policies\.cedar/i).fill(candidate);
    await page.getByTestId('simulate').click();
    await page.getByTestId('simulate-result').waitFor({ timeout: 15_000 });
    assert.match((await page.getByTestId('simulate-result').textContent()) ?? '', /allowed.{0,20}denied/i);
    await shot(page, 'policy-simulation');
    await context.close();
  });

  it('shows runtimes and keys; rotates a key and shreds its old version', async () => {
    await t.gw.keys.ensureKey('e2e-shred', 'aes-256-gcm', 'test');
    const { context, page } = await signIn('admin-ann');
    await page.getByTestId('nav-runtimes').click();
    const row = page.getByTestId('key-row').filter({ hasText: 'e2e-shred' });
    await row.getByTestId('rotate').click();
    await page.getByTestId('confirm').click();
    await page
      .getByTestId('rotate-status')
      .filter({ hasText: /primary version 2/ })
      .waitFor();
    await row.getByTestId('shred').click();
    await page.getByTestId('confirm').click();
    await page
      .getByTestId('rotate-status')
      .filter({ hasText: /destroyed/ })
      .waitFor();
    const versions = (await t.gw.keys.describeKey('e2e-shred')).versions;
    assert.equal(versions.find((v) => v.version === 1)?.state, 'destroyed');
    assert.equal(versions.find((v) => v.version === 2)?.state, 'active');
    await shot(page, 'runtimes-keys');
    await context.close();
  });

  it('every page and action is authorised by Cedar: an auditor reads the ledger but may not manage keys', async () => {
    const { context, page } = await signIn('auditor-amy');
    await page.getByTestId('nav-ledger').click();
    await page.getByTestId('ledger-search').click();
    await page.getByTestId('ledger-row').first().waitFor();
    await page.getByTestId('nav-runtimes').click();
    await page
      .getByText(/Not permitted/)
      .first()
      .waitFor();
    assert.equal(await page.getByTestId('rotate').count(), 0, 'no key actions for an auditor');
    await shot(page, 'auditor-not-permitted');
    await context.close();
  });
});
