import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createCustomRecognizers,
  createPiiRecognizers,
  CustomRecognizerError,
  PII_TYPES,
} from '../../../src/guard/pii/index.js';
import type { Detection } from '../../../src/guard/types.js';

const recognizers = createPiiRecognizers();

function scan(text: string, type?: string): Detection[] {
  return recognizers
    .flatMap((r) => r.detect(text))
    .filter((d) => type === undefined || d.type === type)
    .sort((a, b) => a.start - b.start);
}

/** The values found for one type (the test may read the text; detections never carry it). */
function found(text: string, type: string): string[] {
  return scan(text, type).map((d) => text.slice(d.start, d.end));
}

describe('structured PII recognizers: valid and invalid examples', () => {
  const cases: [type: string, valid: string[], invalid: string[]][] = [
    [
      'EMAIL_ADDRESS',
      ['jane.doe+tag@example.co.uk', 'user@xn--80ak6aa92e.com'],
      ['hello-world', 'a@b', 'x@localhost', 'a..b@example.com'],
    ],
    [
      'URL',
      ['https://example.com/a?b=1', 'www.example.org', 'microsoft.com', 'http://10.0.0.1:8080/x'],
      ['www.microsoft', 'README.md', 'e.g.', 'app.py'],
    ],
    [
      'IP_ADDRESS',
      ['192.168.1.1', '2001:db8::1', '::ffff:10.0.0.1', 'fe80::1%eth0/64', '10.0.0.0/8'],
      ['256.1.1.1', '1.2.3', '12:45:18', '00:1A:2B:3C:4D:5E'],
    ],
    [
      'PHONE_NUMBER',
      ['(415) 555-0132', '+44 20 7946 0958', '+49 30 1234567', '415-555-0132 x12'],
      ['123', '555-0000000000000000', '1 2 3 4 5 6 7'],
    ],
    [
      'CREDIT_CARD',
      [
        '4012888888881881',
        '4012-8888-8888-1881',
        '4012 8888 8888 1881',
        '371449635398431',
        '5019717010103742',
      ],
      ['4012-8888-8888-1882', '1748503543012', '0000000000000000', '4012 88888888 1881 0'],
    ],
    [
      'IBAN_CODE',
      ['GB82WEST12345698765432', 'DE89 3704 0044 0532 0130 00', 'NL91ABNA0417164300'],
      [
        'GB82WEST12345698765433',
        'AL47 212A 1009 0000 0002 3569 8741',
        'XX82WEST12345698765432',
        'DE89370400440532013',
      ],
    ],
    [
      'US_SSN',
      ['078-05-1121', '123-45-6780', '078.05.1123'],
      [
        '078-05-1120',
        '000-12-3456',
        '666-12-3456',
        '912-12-3456',
        '123-00-4567',
        '123-45-0000',
        '111-11-1111',
      ],
    ],
    [
      'CRYPTO',
      [
        '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2',
        '3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy',
        'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq',
        '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
        '0x52908400098527886e0f7030069857d2e4169ee7',
      ],
      [
        '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3',
        'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdr',
        '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD',
      ],
    ],
    [
      'DATE_TIME',
      ['2024-03-15T14:30:00Z', '8/14/1996', 'May 1st, 1977', '5-May-2021', 'Saturday', '14:30'],
      ['13/13/2020', '2024-13-45'],
    ],
    ['UK_NHS', ['401-023-2137'], ['401-023-2138']],
    ['UK_NINO', ['AB 12 34 56 C', 'tw987654a'], ['BG123612A', 'AA 12 34 56 H', 'FQ 00 00 00 C']],
    ['ES_NIF', ['12345678Z', '55555555-K'], ['12345678A']],
    ['ES_NIE', ['X1234567L'], ['X1234567A']],
    ['IT_FISCAL_CODE', ['RSSMRA85T10A562S'], ['RSSMRA85T10A562T', 'AAAAAA - 00B11C333N']],
    ['FI_PERSONAL_IDENTITY_CODE', ['010594Y9032', '131052-308T'], ['131052-308U', '321352-308T']],
    ['PL_PESEL', ['44051401458'], ['44051401459', '11110021111']],
    ['AU_ABN', ['51 824 753 556'], ['52824753556']],
    ['AU_TFN', ['876 543 210'], ['824 753 557']],
    ['SG_NRIC_FIN', ['S1234567D', 'T1234567J'], ['S1234567A']],
    ['IN_PAN', ['ABCPD1234Z'], ['ABCXD1234Z']],
    ['US_NPI', ['1234567893'], ['1234567894', '1111111112']],
    ['US_ITIN', ['911-70-1234', '911-53-1234'], ['911-69-1234', '911-93-1234']],
    ['TR_NATIONAL_ID', ['10000000146'], ['10000000147']],
    ['CA_SIN', ['130 692 544'], ['130 692 545', '046 454 286']],
    ['SE_PERSONNUMMER', ['199003052397', '20110925-2385'], ['199003052398', '199013052397']],
    ['TH_TNIN', ['1234567890121'], ['1234567890122']],
    ['KR_RRN', ['9601211021413'], ['9613211021413']],
    ['ZA_ID_NUMBER', ['9202201234088'], ['9202201234089']],
    ['IN_AADHAAR', ['3123 4567 8909'], ['3123 4567 8908']],
    [
      'MAC_ADDRESS',
      ['00:11:22:33:44:55', 'AA-BB-CC-DD-EE-FF', '0123.4567.89ab'],
      ['00:11:22:33:44', '00:11-22:33:44:55', 'ff:ff:ff:ff:ff:ff'],
    ],
  ];
  for (const [type, valid, invalid] of cases) {
    it(`${type}: accepts valid, rejects invalid`, () => {
      for (const v of valid) assert.deepEqual(found(`value: ${v} .`, type), [v], `${type} should find ${v}`);
      for (const v of invalid)
        assert.deepEqual(found(`value: ${v} .`, type), [], `${type} should reject ${v}`);
    });
  }

  it('emits only the documented types, with Presidio names', () => {
    for (const t of [
      'EMAIL_ADDRESS',
      'PHONE_NUMBER',
      'CREDIT_CARD',
      'IBAN_CODE',
      'US_SSN',
      'ABA_ROUTING_NUMBER',
      'CRYPTO',
    ]) {
      assert.ok(PII_TYPES.includes(t), t);
    }
    assert.throws(() => createPiiRecognizers({ types: ['NOT_A_TYPE'] }), /unknown PII type/);
    assert.deepEqual(
      createPiiRecognizers({ types: ['IBAN_CODE'] }).map((r) => r.name),
      ['iban'],
    );
  });
});

describe('boundaries', () => {
  it('URLs do not swallow trailing punctuation or brackets', () => {
    assert.deepEqual(
      found('See (https://example.com/a). Or https://en.wikipedia.org/wiki/Foo_(bar), ok', 'URL'),
      ['https://example.com/a', 'https://en.wikipedia.org/wiki/Foo_(bar)'],
    );
    assert.deepEqual(found('visit www.example.com!', 'URL'), ['www.example.com']);
  });

  it('e-mail addresses stop at sentence punctuation', () => {
    assert.deepEqual(found('Write to ops@example.com.', 'EMAIL_ADDRESS'), ['ops@example.com']);
  });

  it('IPv4 addresses end before a full stop; IPv6 keeps zone ids and prefixes', () => {
    assert.deepEqual(found('Server 10.0.0.1. Next', 'IP_ADDRESS'), ['10.0.0.1']);
    assert.deepEqual(found('at fe80::1%eth0/64 now', 'IP_ADDRESS'), ['fe80::1%eth0/64']);
  });

  it('an IBAN is cut at its country length when more groups follow', () => {
    assert.deepEqual(found('IBAN DE89 3704 0044 0532 0130 00 1234', 'IBAN_CODE'), [
      'DE89 3704 0044 0532 0130 00',
    ]);
  });
});

describe('context words raise scores', () => {
  const score = (text: string, type: string): number => scan(text, type)[0]?.score ?? 0;

  it('card, ssn, iban and phone context raise the score', () => {
    assert.ok(
      score('my card is 4012888888881881', 'CREDIT_CARD') > score('number 4012888888881881', 'CREDIT_CARD'),
    );
    assert.ok(score('ssn 078-05-1121', 'US_SSN') > score('ref 078-05-1121', 'US_SSN'));
    assert.ok(
      score('iban: GB82WEST12345698765432', 'IBAN_CODE') > score('x GB82WEST12345698765432', 'IBAN_CODE'),
    );
    assert.ok(score('tel 415-555-0132', 'PHONE_NUMBER') > score('ref 415-555-0132', 'PHONE_NUMBER'));
  });

  it('recognizers that need context emit nothing without it', () => {
    assert.deepEqual(found('the number 021000021 here', 'ABA_ROUTING_NUMBER'), []);
    assert.deepEqual(found('routing number 021000021', 'ABA_ROUTING_NUMBER'), ['021000021']);
    assert.deepEqual(found('ref 021000022', 'ABA_ROUTING_NUMBER'), []);
    assert.deepEqual(found('routing 021000022', 'ABA_ROUTING_NUMBER'), [], 'bad ABA checksum');
    assert.deepEqual(found('id 078051121', 'US_SSN'), []);
    assert.deepEqual(found('my ssn is 078051121', 'US_SSN'), ['078051121']);
    assert.deepEqual(found('file A12803456', 'US_PASSPORT'), []);
    assert.deepEqual(found('my passport is A12803456', 'US_PASSPORT'), ['A12803456']);
  });
});

describe('overlaps and offsets', () => {
  it('recognizers report overlapping spans independently (merging is the caller’s job)', () => {
    const text = 'open https://example.com/?u=ops@example.com now';
    const url = scan(text, 'URL')[0];
    const email = scan(text, 'EMAIL_ADDRESS')[0];
    assert.ok(url && email);
    assert.ok(email.start >= url.start && email.end <= url.end);
  });

  it('a card is not also reported as a phone number, nor an ISO date-time as one', () => {
    assert.deepEqual(found('card 4012888888881881 on 2024-03-15 12:30:00', 'PHONE_NUMBER'), []);
  });

  it('offsets are UTF-16 indices into the scanned string', () => {
    const text =
      '🙂 Zoë écrit à zoë@example.fr 🚀 ou appelle +33 1 42 68 53 00 — 🙂 IBAN GB82WEST12345698765432';
    assert.deepEqual(found(text, 'EMAIL_ADDRESS'), ['zoë@example.fr']);
    assert.deepEqual(found(text, 'PHONE_NUMBER'), ['+33 1 42 68 53 00']);
    assert.deepEqual(found(text, 'IBAN_CODE'), ['GB82WEST12345698765432']);
    assert.deepEqual(found('🙂🙂 a.b@example.com', 'EMAIL_ADDRESS'), ['a.b@example.com']);
    assert.equal(scan('🙂🙂 a.b@example.com', 'EMAIL_ADDRESS')[0]?.start, 5);
  });

  it('detections never carry the matched value', () => {
    for (const d of scan('mail a.b@example.com card 4012888888881881')) {
      assert.deepEqual(Object.keys(d).sort(), ['end', 'recognizer', 'score', 'start', 'type']);
    }
  });
});

describe('custom recognizers', () => {
  it('matches RE2 patterns with context and reports UTF-16 offsets', () => {
    const [emp] = createCustomRecognizers({
      patterns: [
        {
          name: 'employee',
          type: 'EMPLOYEE_ID',
          regex: '\\bEMP-[0-9]{6}\\b',
          score: 0.5,
          context: ['employee'],
        },
      ],
    });
    assert.ok(emp);
    const text = '🙂🙂 employee EMP-123456 and EMP-654321x and XEMP-111111';
    const hits = emp.detect(text);
    assert.deepEqual(
      hits.map((d) => text.slice(d.start, d.end)),
      ['EMP-123456'],
    );
    assert.equal(hits[0]?.recognizer, 'custom:employee');
    assert.ok((hits[0]?.score ?? 0) > 0.5);
  });

  it('refuses an invalid pattern, naming it', () => {
    assert.throws(
      () => createCustomRecognizers({ patterns: [{ name: 'broken', type: 'X', regex: '(a' }] }),
      (err: unknown) =>
        err instanceof CustomRecognizerError && err.message.includes("'broken'") && err.entry === 'broken',
    );
    assert.throws(
      () => createCustomRecognizers({ patterns: [{ name: 'lookahead', type: 'X', regex: 'a(?=b)' }] }),
      /'lookahead'/,
    );
    assert.throws(
      () => createCustomRecognizers({ dictionaries: [{ name: 'empty', type: 'X', terms: [' '] }] }),
      /'empty'/,
    );
    assert.throws(
      () =>
        createCustomRecognizers({
          patterns: [{ name: 'dup', type: 'X', regex: 'a' }],
          dictionaries: [{ name: 'dup', type: 'X', terms: ['a'] }],
        }),
      /duplicate/,
    );
  });

  it('matches dictionary terms on word boundaries, case-insensitive by default', () => {
    const [projects, exact] = createCustomRecognizers({
      dictionaries: [
        { name: 'projects', type: 'PROJECT', terms: ['Blue Falcon', 'Falcon', 'Zoë'] },
        { name: 'codes', type: 'CODE', terms: ['ACME'], caseSensitive: true },
      ],
    });
    assert.ok(projects && exact);
    const text = '🙂 blue falcon, Falconry, FALCON; zoë. ZOË';
    const got = projects.detect(text).map((d) => text.slice(d.start, d.end));
    assert.deepEqual(got.sort(), ['FALCON', 'ZOË', 'blue falcon', 'falcon', 'zoë'].sort());
    assert.deepEqual(
      exact.detect('acme ACME ACMEs').map((d) => d.start),
      [5],
    );
  });

  it('keeps UTF-16 offsets right across windows of astral text', () => {
    const [emp] = createCustomRecognizers({
      patterns: [{ name: 'emp', type: 'EMPLOYEE_ID', regex: 'EMP-[0-9]{6}' }],
    });
    assert.ok(emp);
    const text = ('🙂'.repeat(700) + 'EMP-123456 ').repeat(20);
    const hits = emp.detect(text);
    assert.equal(hits.length, 20);
    for (const d of hits) assert.equal(text.slice(d.start, d.end), 'EMP-123456');
  });

  it('finds every match of a custom pattern in 1 MB, in linear time, across window edges', () => {
    const [emp] = createCustomRecognizers({
      patterns: [{ name: 'emp', type: 'EMPLOYEE_ID', regex: 'EMP-[0-9]{6}' }],
    });
    assert.ok(emp);
    const unit = 'x'.repeat(990) + 'EMP-123456'; // 1000 chars: matches straddle the 4096-char windows
    const text = unit.repeat(1000);
    const started = performance.now();
    const hits = emp.detect(text);
    const ms = performance.now() - started;
    console.log(`custom RE2: 1 MB, ${hits.length} matches in ${ms.toFixed(0)} ms`);
    assert.equal(hits.length, 1000);
    assert.ok(hits.every((d, i) => d.start === i * 1000 + 990 && d.end === d.start + 10));
    assert.ok(ms < 2000, `took ${ms} ms`);
  });
});
