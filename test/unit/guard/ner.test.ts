import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSync } from 'recheck';
import { createNameRecognizer } from '../../../src/guard/ner/index.js';
import { NER_REGEXPS } from '../../../src/guard/ner/regexps.js';
import type { Detection } from '../../../src/guard/types.js';

const ner = createNameRecognizer();

/** `TYPE:text` for each detection, in order. */
function found(text: string): string[] {
  return ner.detect(text).map((d) => `${d.type}:${text.slice(d.start, d.end)}`);
}

function assertWellFormed(text: string, ds: readonly Detection[]): void {
  for (const d of ds) {
    assert.ok(d.start >= 0 && d.start < d.end && d.end <= text.length, `bad offsets ${d.start}-${d.end}`);
    assert.ok(d.score > 0 && d.score <= 1);
    assert.equal(d.recognizer, 'ner');
    // Never split a surrogate pair.
    const lo = text.charCodeAt(d.start);
    assert.ok(!(lo >= 0xdc00 && lo <= 0xdfff), 'span starts inside a surrogate pair');
    const hi = text.charCodeAt(d.end - 1);
    assert.ok(!(hi >= 0xd800 && hi <= 0xdbff), 'span ends inside a surrogate pair');
    assert.deepEqual(Object.keys(d).sort(), ['end', 'recognizer', 'score', 'start', 'type']);
  }
}

describe('name recognizer', () => {
  it('declares its name and types', () => {
    assert.equal(ner.name, 'ner');
    assert.deepEqual([...ner.types], ['PERSON', 'LOCATION', 'ORGANIZATION', 'NRP']);
  });

  it('finds names after honorifics, with and without a dot', () => {
    assert.deepEqual(found('Dr. Burke is a 53 year old man.'), ['PERSON:Burke']);
    assert.ok(found('Please call Mrs Quinzia tomorrow').includes('PERSON:Quinzia'));
    assert.ok(found('Mr. May').includes('PERSON:May'));
  });

  it('finds names at the start of a sentence and after cues', () => {
    assert.ok(found('Cendrillon Coudert lives in Borgarnes.').includes('PERSON:Cendrillon Coudert'));
    assert.ok(found('Hello. John Smith will join us.').includes('PERSON:John Smith'));
    assert.ok(found('My name is Rubija').includes('PERSON:Rubija'));
    assert.ok(found("What's your last name? Turgeon").includes('PERSON:Turgeon'));
    assert.ok(found('The name on the account should be Soib K. Kishiev').includes('PERSON:Soib K. Kishiev'));
  });

  it('does not take capitalised ordinary words for names', () => {
    assert.deepEqual(found('The Quick Brown Fox Jumps Over The Lazy Dog'), []);
    assert.deepEqual(found('Please update my address. Thanks!'), []);
    assert.deepEqual(found('Could you summarize this article?'), []);
  });

  it('tells "Paris Hilton" from "Paris"', () => {
    assert.deepEqual(found('Paris Hilton stayed in Paris.'), ['PERSON:Paris Hilton', 'LOCATION:Paris']);
  });

  it('finds places and organisations', () => {
    assert.deepEqual(found('I work for Acme Corp and my colleague Sarah Connor lives in Los Angeles.'), [
      'ORGANIZATION:Acme Corp',
      'PERSON:Sarah Connor',
      'LOCATION:Los Angeles',
    ]);
    assert.ok(found('I will be travelling to Czech Republic next week').includes('LOCATION:Czech Republic'));
    assert.ok(found('He is a Hungarian engineer').includes('NRP:Hungarian'));
  });

  it('reports street addresses as LOCATION, one span per line or comma-separated part', () => {
    assert.deepEqual(found('Mr. John Smith lives at 123 Main Street, Springfield, IL 62704.'), [
      'PERSON:John Smith',
      'LOCATION:123 Main Street',
      'LOCATION:Springfield',
      'LOCATION:IL 62704',
    ]);
    const letter = 'Angelo Rizzo\n\n50345 Wingertweg 126\n Suite 408\n Ependes\n\n Switzerland 82590';
    assert.deepEqual(found(letter), [
      'PERSON:Angelo Rizzo',
      'LOCATION:50345 Wingertweg 126',
      'LOCATION:Suite 408',
      'LOCATION:Ependes',
      'LOCATION:Switzerland 82590',
    ]);
    assert.ok(found('He lives on the north side of Rua Diadema 1903.').includes('LOCATION:Rua Diadema 1903'));
    assert.deepEqual(found('Ship it to PSC 4355, Box 4187\nAPO AP 28906 please'), [
      'LOCATION:PSC 4355',
      'LOCATION:Box 4187',
      'LOCATION:APO AP 28906',
    ]);
    // A name right before an address stays a name.
    assert.deepEqual(found('Mrs. Diana Usamov Suite 913'), ['PERSON:Diana Usamov', 'LOCATION:Suite 913']);
  });

  it('reads lower-case and upper-case text', () => {
    assert.deepEqual(found('my name is ana dias and i live in lisbon'), [
      'PERSON:ana dias',
      'LOCATION:lisbon',
    ]);
    assert.deepEqual(found("i'm originally from switzerland"), ['LOCATION:switzerland']);
    assert.deepEqual(found('HELLO MY NAME IS JOHN SMITH AND I LIVE IN PARIS'), [
      'PERSON:JOHN SMITH',
      'LOCATION:PARIS',
    ]);
  });

  it('gives UTF-16 offsets and survives non-Latin scripts', () => {
    const text = '😀😀 Café owner Zoë Ågren met José in São Paulo 🇧🇷 yesterday.';
    const ds = ner.detect(text);
    assertWellFormed(text, ds);
    assert.deepEqual(found(text), ['PERSON:Zoë Ågren', 'PERSON:José', 'LOCATION:São Paulo']);
    for (const t of [
      '東京に住んでいます。私の名前は田中です。',
      'Меня зовут Иван Петров, я живу в Москве.',
      'اسمي أحمد وأعيش في القاهرة',
      'Ο Γιώργος μένει στην ΑΘΗΝΑ.',
      '\u0301\u0301 \ud800 \udc00 x\u200d\u200d',
      '',
    ]) {
      assertWellFormed(t, ner.detect(t));
    }
  });

  it('emits only the types it was asked for, and checks its options', () => {
    const people = createNameRecognizer({ types: ['PERSON'] });
    const text = 'Sarah Connor lives in Los Angeles.';
    assert.deepEqual(
      people.detect(text).map((d) => d.type),
      ['PERSON'],
    );
    assert.throws(() => createNameRecognizer({ types: ['EMAIL' as 'PERSON'] }), TypeError);
    assert.throws(() => createNameRecognizer({ minScore: 2 }), RangeError);
    assert.deepEqual(createNameRecognizer({ minScore: 0.99 }).detect(text), []);
  });

  it('stays linear on a 1 MB adversarial input', () => {
    const pieces = [
      'AAAA BBBB CCCC DDDD EEEE '.repeat(2000),
      'Aaaa Bbbb Cccc Dddd Eeee Ffff '.repeat(2000),
      '123 Main Street Suite 4 Apt. 5 Box 6 '.repeat(1000),
      '... ,,, ;;; --- ::: ??? !!! ((( ))) '.repeat(1000),
      'Mr. Dr. Mrs. Ms. '.repeat(2000),
      "O'O'O'O'-A-B-C-'s 's 's ".repeat(1000),
      'de la del van von '.repeat(1000),
      '12 A 12 B 12 C 12 D '.repeat(2000),
    ];
    let text = '';
    for (let k = 0; text.length < 1_000_000; k++) text += pieces[k % pieces.length] + '\n';
    text += 'Word '.repeat(20_000); // one long capitalised run on the last line
    // Let the JIT settle: the bound is about steady-state cost, not first compilation.
    const sample = pieces.map((p) => p.slice(0, 20_000)).join('\n');
    for (let k = 0; k < 3; k++) ner.detect(sample);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const ds = ner.detect(text);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    console.log(
      `ner: ${(text.length / 1e6).toFixed(2)} MB adversarial input in ${ms.toFixed(1)} ms ` +
        `(${cpuMs.toFixed(1)} ms CPU), ${ds.length} spans`,
    );
    assertWellFormed(text, ds.slice(0, 1000));
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  it('gives the same spans when a long text is scanned in pieces', () => {
    const line = 'Sarah Connor lives in Los Angeles and works for Acme Corp. ';
    const text = line.repeat(Math.ceil(100_000 / line.length));
    const ds = ner.detect(text);
    const perLine = ner.detect(line).length;
    assertWellFormed(text, ds);
    // A cut may fall inside one line; everything else is found exactly as in a short text.
    assert.ok(ds.length >= (text.length / line.length - 4) * perLine, `${ds.length} spans`);
    const names = ['Sarah Connor', 'Los Angeles', 'Acme Corp'];
    for (const d of ds) assert.ok(names.some((n) => n.includes(text.slice(d.start, d.end))));
  });

  it('uses only regular expressions that recheck proves safe', () => {
    for (const re of NER_REGEXPS) {
      const result = checkSync(re.source, re.flags);
      assert.equal(result.status, 'safe', `${re} is ${result.status}`);
    }
  });
});
