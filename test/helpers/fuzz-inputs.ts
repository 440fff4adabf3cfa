import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { JPEG, PNG, TRUNCATED_PNG } from './images.js';

// Generators of malformed input for test/integration/fuzz.test.ts: strings, JSON, forms,
// multipart bodies, paths, query strings and headers that break naive input handling.

/** A key that a prototype-pollution payload tries to set on Object.prototype. */
export const POLLUTION_MARK = 'fuzzPolluted';

/** A valid resident ID (GB 11643) and its holder, and the same number in full-width digits. */
export const VALID_NUMBER = '11010519491231002X';
export const FULL_WIDTH_NUMBER = '１１０１０５１９４９１２３１００２Ｘ';
export const VALID_NAME = '张三';

const LONE_HIGH = '\ud800';
const LONE_LOW = '\udfff';

/** Text that has broken parsers, databases and templates before. */
const NASTY = [
  '',
  ' ',
  '\t',
  '\r\n',
  '\u0000',
  'a\u0000b',
  LONE_HIGH,
  `x${LONE_LOW}y`,
  `${LONE_LOW}${LONE_HIGH}`,
  '\u202e',
  'abc\u202efdp.exe',
  '\u200b',
  '\ufeff',
  '\u2028\u2029',
  '\u00a0',
  '\u0085',
  '😀',
  '👨‍👩‍👧‍👦',
  '🏳️‍🌈',
  'e\u0301\u0301\u0301\u0301',
  'Z\u0364\u0354\u0367\u0311\u0313',
  '\u0e01\u0e34\u0e34\u0e34\u0e34\u0e34',
  FULL_WIDTH_NUMBER,
  '１２３４５６',
  '١٢٣٤٥٦',
  '११०१०५',
  'Ⅻ',
  '¹²³',
  '11010519491231002X\u0000',
  `110105${LONE_HIGH}19491231002X`,
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "' OR '1'='1' --",
  '"; DROP TABLE accounts; --',
  '${7*7}',
  '{{7*7}}',
  '{% raw %}',
  '%s%s%s%n',
  '%00',
  '%',
  '%zz',
  '%ED%A0%80',
  '%C0%AE',
  '../../../../etc/passwd',
  '..\\..\\windows',
  'file:///etc/passwd',
  'javascript:alert(1)',
  'null',
  'undefined',
  'NaN',
  'true',
  '-1',
  '-0',
  '1e309',
  '9007199254740993',
  '0x10',
  '1_000',
  '０',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__defineGetter__',
  'Ａ@example.test',
  'person@example.test',
  'a@b',
  '+86 138 0013 8000',
  '１３８００１３８０００',
  '\u0130stanbul',
  'ß',
  'ﬃ',
  'İ',
  '\u{10FFFF}',
  '\uFFFE',
  '\uFFFF',
];

export const nastyString = fc.constantFrom(...NASTY);
/** Any UTF-16 code unit, lone surrogates included (fast-check's own units keep them paired). */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const longString = fc
  .tuple(
    fc.constantFrom(65, 101, 201, 255, 1025, 4097, 20_000),
    fc.constantFrom('a', '字', '😀', '\u0000', '9', LONE_HIGH),
  )
  .map(([n, ch]) => ch.repeat(n));

export const fuzzString: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: nastyString },
  { weight: 2, arbitrary: fc.string({ unit: codeUnit, maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 16 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
  { weight: 1, arbitrary: longString },
);

/** Object keys: the route's own fields, pollution keys and junk. */
const keyOf = (fields: readonly string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...fields) },
    {
      weight: 2,
      arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', '', 'toString', '_csrf', 'a.b', 'a[0]'),
    },
    { weight: 1, arbitrary: fuzzString },
  );

// ---------------------------------------------------------------------------------------------
// JSON

const jsonScalar = fc.oneof(
  fc.constantFrom(
    'null',
    'true',
    'false',
    '0',
    '-0',
    '-1',
    '1.5',
    '1e308',
    '1e999',
    '-1e999',
    '9007199254740993',
    '123456789012345678901234567890',
    '0.1e-400',
  ),
  fc.double().map((d) => (Number.isFinite(d) ? JSON.stringify(d) : '1e999')),
  fc.integer().map(String),
  fuzzString.map((s) => JSON.stringify(s)),
);

/** Values a field is likely to be validated against, to get past the first checks. */
export const FIELD_VALUES: Record<string, string[]> = {
  document_type: [
    '"cn_resident_id"',
    '"passport"',
    '"other"',
    '"CN_RESIDENT_ID"',
    '"cn_resident_id\\u0000"',
    '["cn_resident_id"]',
  ],
  document_number: [
    JSON.stringify(VALID_NUMBER),
    JSON.stringify(FULL_WIDTH_NUMBER),
    '"110105194912310021"',
    '"110105 19491231 002x"',
    '"E12345678"',
    '11010519491231002',
    JSON.stringify(`${VALID_NUMBER}\u202e`),
  ],
  name: [
    JSON.stringify(VALID_NAME),
    '"张\\u0000三"',
    '"张三\\u202e"',
    '"\\ud800"',
    '"e\\u0301"',
    '" "',
    JSON.stringify('名'.repeat(101)),
  ],
  limit: ['0', '1', '200', '201', '-1', '1.5', '"5"', '1e999', 'null'],
  types: [
    '["notary.queried"]',
    '[]',
    '["no.such"]',
    '"notary.queried"',
    '[null]',
    JSON.stringify(Array(40).fill('notary.queried')),
  ],
  from: ['"2026-01-01T00:00:00Z"', '"not a date"', '"2026-13-45T99:99:99Z"', '"+275760-09-13T00:00:00.000Z"', '0'],
  to: ['"2026-01-01T00:00:00+08:00"', '"1970-01-01"', '""'],
  cursor: ['"MQ"', '"AAAA"', '"!!!"', '"MTAwMDAwMDAwMDAwMDAwMDAwMA"', '"LTE"', '"MS41"', '""', '1'],
  person: [
    `{"document_type":"cn_resident_id","document_number":${JSON.stringify(FULL_WIDTH_NUMBER)}}`,
    '{"document_type":"cn_resident_id"}',
    '{"document_type":"x","document_number":"1","extra":1}',
    '[]',
    '"person"',
  ],
  account: [
    '"00000000-0000-0000-0000-000000000000"',
    '"\\u0000"',
    '"\\ud800"',
    '""',
    JSON.stringify('a'.repeat(101)),
    '{}',
  ],
  merchant: ['"demo-merchant"', '"\\u0000"', '"\\udfff"', '[]', JSON.stringify('m'.repeat(201))],
  leaf_indices: [
    '[0]',
    '[]',
    '[-1]',
    '[1e20]',
    '[0.5]',
    '["0"]',
    JSON.stringify(Array.from({ length: 101 }, (_, i) => i)),
    '[9007199254740993]',
    '[null]',
    '0',
  ],
  records: [
    `[{"external_id":"ext-1","document_type":"cn_resident_id","document_number":"110105194912310021","name":"张三","verified_at":"2026-01-01T00:00:00Z"}]`,
    `[{"external_id":"ext\\u0000","document_type":"cn_resident_id","document_number":${JSON.stringify(VALID_NUMBER)},"name":"张\\u0000三","verified_at":"2026-01-01T00:00:00Z"}]`,
    `[{"external_id":"ext-2","document_type":"passport","document_number":"E12345678","name":"\\ud800","verified_at":"2026-01-01T00:00:00Z"}]`,
    `[{"external_id":"ext-3","document_type":"cn_resident_id","document_number":${JSON.stringify(VALID_NUMBER)},"name":"张三","verified_at":"2999-01-01T00:00:00Z"}]`,
    `[{"external_id":"../x","document_type":"cn_resident_id","document_number":${JSON.stringify(VALID_NUMBER)},"name":"张三","verified_at":"2026-01-01T00:00:00Z","birth_date":"1950-01-01"}]`,
    `[{"external_id":"ext-4","document_type":"cn_resident_id","document_number":${JSON.stringify(VALID_NUMBER)},"name":"张三","verified_at":"2026-01-01T00:00:00Z","__proto__":{"${POLLUTION_MARK}":true}}]`,
    '[]',
    '[null]',
    '[1,"a",[]]',
    JSON.stringify(Array(51).fill({})),
    '{}',
    '"records"',
  ],
};

const fieldValue = (key: string, value: fc.Arbitrary<string>) => {
  const known = Object.hasOwn(FIELD_VALUES, key) ? FIELD_VALUES[key] : undefined;
  return known ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...known) }, { weight: 2, arbitrary: value }) : value;
};

/** JSON text with a random shape; objects are written as text so `__proto__` stays a real key. */
export function jsonValue(fields: readonly string[]): fc.Arbitrary<string> {
  const { value } = fc.letrec<{ value: string }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', maxDepth: 4 },
      jsonScalar,
      fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
      fc
        .array(fc.tuple(keyOf(fields), tie('value')), { maxLength: 5 })
        .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
    ),
  }));
  return value;
}

/** A JSON object over the route's fields: mostly plausible values, some wrong types and junk. */
export function jsonObject(fields: readonly string[]): fc.Arbitrary<string> {
  const any = jsonValue(fields);
  return fc
    .array(
      keyOf(fields).chain((key) => fieldValue(key, any).map((value) => [key, value] as const)),
      { maxLength: 7 },
    )
    .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`);
}

/** JSON that is not JSON, or is JSON in a shape no route expects. */
export const brokenJson = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '{',
    '}',
    '{"a":',
    '{"a":1,}',
    "{'a':1}",
    '{a:1}',
    '[1,2',
    'NaN',
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":undefined}',
    '{"a":1} trailing',
    '{"a":"\u0000"}',
    '{"a":"\\u0000"}',
    '{"a":"\\ud800"}',
    '{"a":"\\x41"}',
    '{"a":"\\u12"}',
    '/* c */{}',
    '{"a":1}\u0000',
    '\ufeff{}',
    '{"a":1,"a":2}',
    'null',
    'true',
    '1',
    '"str"',
    '[]',
    '[{}]',
    '{"__proto__":{"' + POLLUTION_MARK + '":true}}',
    '{"constructor":{"prototype":{"' + POLLUTION_MARK + '":true}}}',
    '{"__proto__":null}',
    '{"toString":1,"valueOf":"x","hasOwnProperty":[]}',
  ),
  fc.constantFrom(100, 2000, 7000).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.constantFrom(100, 1500, 4000).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
  fc.constantFrom(200, 1000).map((depth) => `{"records":${'['.repeat(depth)}${']'.repeat(depth)}}`),
);

// ---------------------------------------------------------------------------------------------
// Forms

/** A urlencoded form body over the route's fields, often carrying bracket syntax and bad escapes. */
export function formBody(fields: readonly string[]): fc.Arbitrary<string> {
  const name = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...fields) },
    { weight: 1, arbitrary: fc.constantFrom(...fields).map((f) => `${f}[]`) },
    { weight: 1, arbitrary: fc.constantFrom(...fields).map((f) => `${f}[a][b]`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        `__proto__[${POLLUTION_MARK}]`,
        `constructor[prototype][${POLLUTION_MARK}]`,
        `a[__proto__][${POLLUTION_MARK}]`,
        '__proto__',
        'a[0][1][2][3][4][5][6][7]',
        'a[21]',
        '[]',
        '=',
      ),
    },
    { weight: 1, arbitrary: fuzzString.map(encodeURIComponent2) },
  );
  const value = fc.oneof(
    { weight: 3, arbitrary: fuzzString.map(encodeURIComponent2) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '%ED%A0%80',
        '%C0%AE%C0%AE',
        '%FF%FE',
        '%',
        '%2',
        '%zz',
        '%00',
        '+++',
        '%2B',
        'a%F0%9F%98',
        '%E2%80%AE',
      ),
    },
  );
  const pair = fc.oneof(
    { weight: 5, arbitrary: fc.tuple(name, value).map(([n, v]) => `${n}=${v}`) },
    { weight: 1, arbitrary: fc.constantFrom('', '&', '=', '==', 'a', 'a==b', '&&&') },
  );
  return fc.array(pair, { maxLength: 8 }).map((pairs) => pairs.join('&'));
}

/** encodeURIComponent that also encodes lone surrogates (as WTF-8 bytes, as a broken client would). */
export function encodeURIComponent2(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    out +=
      c >= 0xd800 && c <= 0xdfff
        ? [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]
            .map((b) => `%${b.toString(16).toUpperCase()}`)
            .join('')
        : encodeURIComponent(ch);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Multipart

const fileData = fc.oneof(
  fc.constantFrom(
    PNG,
    JPEG,
    TRUNCATED_PNG,
    Buffer.alloc(0),
    Buffer.from('GIF89a'),
    Buffer.from('<svg onload=alert(1)>'),
    Buffer.concat([PNG, Buffer.alloc(100, 0)]),
  ),
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
);

export interface Part {
  name: string;
  filename?: string;
  type?: string;
  data: Buffer;
}

/** Parts over the route's fields and files; `big` adds a file of that size (limits). */
export function multipartParts(fields: readonly string[], files: readonly string[]): fc.Arbitrary<Part[]> {
  const field = fc
    .tuple(
      keyOf(fields),
      fc.oneof(
        fuzzString,
        fc.constantFrom(VALID_NAME, VALID_NUMBER, FULL_WIDTH_NUMBER, 'cn_resident_id', 'passport', '1'),
      ),
    )
    .map(([name, value]) => ({ name, data: Buffer.from(value) }));
  const file = fc
    .tuple(
      keyOf(files.length ? files : ['file']),
      fc.constantFrom('a.png', '../../etc/passwd', '', 'a\u0000.png', '😀.jpg', 'x'.repeat(300)),
      fc.constantFrom('image/png', 'image/jpeg', 'text/html', 'application/octet-stream', ''),
      fileData,
    )
    .map(([name, filename, type, data]) => ({ name, filename, type, data }));
  return fc.array(fc.oneof({ weight: 2, arbitrary: field }, { weight: 2, arbitrary: file }), { maxLength: 7 });
}

/** A multipart/form-data body (RFC 7578), well-formed or broken in one of several ways. */
export function multipartBody(
  parts: Part[],
  flaw: MultipartFlaw,
  boundary = 'fuzzBoundary7MA4YWxkTrZu0gW',
): { body: Buffer; type: string } {
  const eol = flaw === 'lf-only' ? '\n' : '\r\n';
  const quote = (s: string) => s.replace(/"/g, '%22');
  const pieces: Buffer[] = [];
  for (const part of parts) {
    const disposition =
      flaw === 'no-disposition'
        ? ''
        : `Content-Disposition: form-data; name="${quote(part.name)}"${part.filename !== undefined ? `; filename="${quote(part.filename)}"` : ''}${eol}`;
    const type = part.type ? `Content-Type: ${part.type}${eol}` : '';
    pieces.push(Buffer.from(`--${boundary}${eol}${disposition}${type}${eol}`), part.data, Buffer.from(eol));
  }
  if (flaw !== 'unterminated') pieces.push(Buffer.from(`--${boundary}--${eol}`));
  const body = Buffer.concat(pieces);
  const types: Record<MultipartFlaw, string> = {
    none: `multipart/form-data; boundary=${boundary}`,
    'lf-only': `multipart/form-data; boundary=${boundary}`,
    'no-disposition': `multipart/form-data; boundary=${boundary}`,
    unterminated: `multipart/form-data; boundary=${boundary}`,
    'wrong-boundary': 'multipart/form-data; boundary=notTheBoundary',
    'no-boundary': 'multipart/form-data',
    'empty-boundary': 'multipart/form-data; boundary=',
    'long-boundary': `multipart/form-data; boundary=${'b'.repeat(200)}`,
    'quoted-boundary': `multipart/form-data; boundary="${boundary}"; charset=utf-16`,
    mixed: `multipart/mixed; boundary=${boundary}`,
  };
  return { body, type: types[flaw] };
}

export const MULTIPART_FLAWS = [
  'none',
  'lf-only',
  'no-disposition',
  'unterminated',
  'wrong-boundary',
  'no-boundary',
  'empty-boundary',
  'long-boundary',
  'quoted-boundary',
  'mixed',
] as const;
export type MultipartFlaw = (typeof MULTIPART_FLAWS)[number];

// ---------------------------------------------------------------------------------------------
// Raw bodies and content types

export const CONTENT_TYPES = [
  null,
  'application/x-www-form-urlencoded',
  'application/json',
  'text/plain',
  'text/html',
  'application/xml',
  'application/octet-stream',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/x-www-form-urlencoded; charset=iso-8859-1',
  'application/problem+json',
  'application/vnd.api+json',
  'application/jsonx',
  'application/*',
  '*/*',
  'json',
  'a/b/c;;;=',
  ';',
  'application/json; charset="utf-8"; x',
  'APPLICATION/JSON',
  'multipart/form-data',
  'multipart/form-data; boundary=x',
  `application/json; ${'p=v; '.repeat(200)}`,
] as const;

/** Bodies of raw bytes: random, invalid UTF-8, UTF-16, gzip bombs and junk compressed data. */
export const rawBody: fc.Arbitrary<{ body: Buffer; encoding?: string }> = fc.oneof(
  fc.uint8Array({ maxLength: 256 }).map((a) => ({ body: Buffer.from(a) })),
  fc.constantFrom(
    { body: Buffer.from([0xff, 0xfe, 0xfd]) },
    { body: Buffer.from([0xc0, 0xae, 0xc0, 0xae]) },
    { body: Buffer.from([0xed, 0xa0, 0x80]) },
    { body: Buffer.from('{"a":1}', 'utf16le') },
    { body: Buffer.from('login=a&password=b', 'utf16le') },
    { body: Buffer.from('\u0000\u0000\u0000') },
    { body: gzipSync(Buffer.alloc(1024 * 1024, 0x61)), encoding: 'gzip' },
    { body: gzipSync(Buffer.from('{"a":1}')), encoding: 'gzip' },
    { body: Buffer.from('not gzip at all'), encoding: 'gzip' },
    { body: Buffer.from('not deflate'), encoding: 'deflate' },
    { body: Buffer.from('not brotli'), encoding: 'br' },
    { body: Buffer.from('{}'), encoding: 'x-unknown' },
    { body: Buffer.from('{}'), encoding: 'gzip, gzip' },
    { body: Buffer.from('{}'), encoding: 'identity' },
  ),
);

/** How far over a body limit: just over, a little over, four times, far over (1 MiB: 64 times the form limit). */
export const overBy = fc
  .tuple(fc.constantFrom<'+1' | '+1k' | 'x4' | '1mb'>('+1', '+1k', 'x4', '1mb'), fc.boolean())
  .map(([over, chunked]) => ({ over, chunked }));

/** A body of the route's own format whose size is `over` the limit (built when sent: kept out of reports). */
export function oversizedBody(
  limit: number,
  over: '+1' | '+1k' | 'x4' | '1mb',
  kind: 'form' | 'json' | 'multipart' | 'raw',
): { body: Buffer; type?: string } {
  const size = { '+1': limit + 1, '+1k': limit + 1024, x4: limit * 4, '1mb': 1024 * 1024 }[over];
  if (kind === 'form') return { body: Buffer.from(`a=${'x'.repeat(size)}`), type: 'application/x-www-form-urlencoded' };
  if (kind === 'json') return { body: Buffer.from(`{"a":"${'x'.repeat(size)}"}`), type: 'application/json' };
  if (kind === 'multipart')
    return multipartBody(
      [{ name: 'portrait', filename: 'a.png', type: 'image/png', data: Buffer.concat([PNG, Buffer.alloc(size)]) }],
      'none',
    );
  return { body: Buffer.alloc(size, 0x41) };
}

// ---------------------------------------------------------------------------------------------
// Paths and query strings

/** Ways to bend a path: traversal, encodings, NUL, overlong UTF-8, length, slashes. */
export const PATH_TRICKS: Array<(path: string) => string> = [
  (p) => `${p}/`,
  (p) => `${p}//`,
  (p) => p.replace(/^\//, '//'),
  (p) => p.replace(/\/([^/]+)$/, '/./$1'),
  (p) => `${p}/..`,
  (p) => `${p}/../../../../etc/passwd`,
  (p) => `${p}/%2e%2e/%2e%2e/`,
  (p) => `${p}/%252e%252e/`,
  (p) => `${p}/%c0%ae%c0%ae/`,
  (p) => `${p}/%C0%AF`,
  (p) => `${p}/\xc0\xae\xc0\xae/`,
  (p) => `${p}%00`,
  (p) => `${p}%00.html`,
  (p) => `${p}/%ED%A0%80`,
  (p) => `${p}%`,
  (p) => `${p}%zz`,
  (p) => `${p}%2F..%2F`,
  (p) => `${p};jsessionid=x`,
  (p) => `${p}#fragment`,
  (p) => `${p}?`,
  (p) => p.toUpperCase(),
  (p) => p.replace(/\//g, '\\'),
  (p) => p.replace(/\//g, '%2F'),
  (p) => `${p}/${'a'.repeat(3000)}`,
  (p) => `${p}/${'%41'.repeat(5000)}`,
  (p) => `${p}/${'a/'.repeat(2000)}`,
  () => `/${'x'.repeat(20_000)}`,
  (p) => `${p}/%F0%9F%98%80`,
  (p) => `${p}/\u202e`,
  (p) => `${p}/\u0000`,
  (p) => `${p} HTTP/1.1`,
  (p) => `http://evil.example${p}`,
  () => `*`,
  (p) => p.replace(/^\//, ''),
];

/** A query string over the given parameter names, with the tricks query parsers trip on. */
export function queryString(params: readonly string[]): fc.Arbitrary<string> {
  const name = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...params) },
    { weight: 1, arbitrary: fc.constantFrom(...params).map((p) => `${p}[]`) },
    { weight: 1, arbitrary: fc.constantFrom(...params).map((p) => `${p}[x][y]`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        `__proto__[${POLLUTION_MARK}]`,
        `constructor[prototype][${POLLUTION_MARK}]`,
        'toString',
        'hasOwnProperty',
        '__proto__',
      ),
    },
  );
  const value = fc.oneof(
    fuzzString.map(encodeURIComponent2),
    fc.constantFrom(
      '%',
      '%zz',
      '%ED%A0%80',
      '%C0%AE',
      '%00',
      '-1',
      '0',
      '01',
      '1e3',
      '0x1',
      ' 1',
      '1.0',
      '9007199254740993',
      '18446744073709551616',
      '',
    ),
  );
  const pair = fc.tuple(name, value).map(([n, v]) => `${n}=${v}`);
  return fc.oneof(
    { weight: 6, arbitrary: fc.array(pair, { minLength: 1, maxLength: 8 }).map((pairs) => pairs.join('&')) },
    // The same parameter many times, and many parameters (qs stops at 1000, arrays at 20).
    {
      weight: 1,
      arbitrary: fc.constantFrom(...params).map((p) => Array.from({ length: 50 }, (_, i) => `${p}=${i}`).join('&')),
    },
    { weight: 1, arbitrary: fc.constant(Array.from({ length: 1500 }, (_, i) => `p${i}=${i}`).join('&')) },
    { weight: 1, arbitrary: fc.constantFrom(...params).map((p) => `${p}[25]=x&${p}[0]=y`) },
    { weight: 1, arbitrary: fc.constantFrom(6000, 12_000, 40_000).map((n) => `q=${'a'.repeat(n)}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('&&&', '=', '==', '?', '#', '%', 'a[', 'a]=', 'a[[b]]=1', `${'a['.repeat(50)}=1`),
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Headers

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

/** Headers a client should never send, each on its own: auth, cookies, host, negotiation, framing. */
export const BAD_HEADERS: Array<Array<[string, string]>> = [
  [['authorization', 'Bearer']],
  [['authorization', 'Bearer ']],
  [['authorization', 'Bearer  x']],
  [['authorization', 'Bearer not-a-token']],
  [['authorization', `Bearer ${'a'.repeat(201)}`]],
  [['authorization', `Bearer ${'a'.repeat(10_000)}`]],
  [['authorization', 'Bearer a.b.c']],
  [['authorization', 'Bearer =====']],
  [['authorization', 'Bearer \u00ff\u00fe']],
  [['authorization', 'bearer lowercase-scheme']],
  [['authorization', 'Basic']],
  [['authorization', 'Basic !!!notbase64!!!']],
  [['authorization', `Basic ${b64('no-colon')}`]],
  [['authorization', `Basic ${b64(':')}`]],
  [['authorization', `Basic ${b64('%zz:%zz')}`]],
  [['authorization', `Basic ${b64('%00:%00')}`]],
  [['authorization', `Basic ${b64(Buffer.from([0xff, 0x3a, 0xfe]))}`]],
  [['authorization', `Basic ${b64(`${'a'.repeat(5000)}:b`)}`]],
  [['authorization', 'Digest username="a"']],
  [['authorization', 'DPoP x']],
  [
    ['authorization', 'Bearer one'],
    ['authorization', 'Bearer two'],
  ],
  [['cookie', 'a']],
  [['cookie', '=;=;;==']],
  [['cookie', '_session=junk; _session.sig=junk']],
  [['cookie', '_interaction=junk; _interaction.sig=junk; _interaction_resume=junk']],
  [['cookie', 'rn_csrf=x; rn_csrf.sig=y']],
  [['cookie', 'rn_account_state=x.%2F%2Fevil.example; rn_account_state.sig=y']],
  [['cookie', 'lang=%ED%A0%80']],
  [['cookie', 'lang=\u00ff\u00fe']],
  [['cookie', `big=${'c'.repeat(12_000)}`]],
  [['cookie', `big=${'c'.repeat(20_000)}`]],
  [['cookie', '_session=%']],
  [['host', '']],
  [['host', 'evil.example']],
  [['host', 'a'.repeat(300)]],
  [['host', '127.0.0.1:99999']],
  [['host', '[::1']],
  [['host', 'localhost:80:80']],
  [['host', '\u00ff\u00fe']],
  [['host', 'a b']],
  [
    ['host', 'one'],
    ['host', 'two'],
  ],
  [['x-forwarded-for', '1.2.3.4, <script>']],
  [['x-forwarded-proto', 'gopher']],
  [['x-forwarded-host', 'evil.example']],
  [['forwarded', 'for=";;;"']],
  [['accept', 'application/json']],
  [['accept', 'application/problem+json']],
  [['accept', 'text/html;q=0, */*;q=0']],
  [['accept', ';;;,,,']],
  [['accept', `${'text/html;q=0.1,'.repeat(500)}`]],
  [['accept-language', '*']],
  [['accept-language', 'en;q=2, zz;q=-1, ;q=']],
  [['accept-language', 'x'.repeat(8000)]],
  [['accept-language', 'zh;q=0.5,'.repeat(1000)]],
  [['accept-encoding', 'gzip;q=2, br;q=abc']],
  [['accept-charset', 'utf-16']],
  [['range', 'bytes=0-1']],
  [['range', 'bytes=99999999999-']],
  [['if-none-match', '*']],
  [['if-modified-since', 'not a date']],
  [['content-type', 'application/json']],
  [['content-type', 'a/b/c;;;=']],
  [['content-encoding', 'gzip']],
  [['content-language', '\u00ff']],
  [['expect', '100-continue']],
  [['expect', 'something-else']],
  [['origin', 'null']],
  [['origin', 'https://evil.example']],
  [['referer', 'javascript:alert(1)']],
  [['user-agent', '\u00ff'.repeat(100)]],
  [['x-request-id', '../../../\u00ff']],
  [
    ['connection', 'upgrade'],
    ['upgrade', 'websocket'],
  ],
  [
    ['upgrade', 'h2c'],
    ['connection', 'Upgrade, HTTP2-Settings'],
    ['http2-settings', 'AAMAAABkAARAAAAAAAIAAAAA'],
  ],
  [['te', 'trailers, deflate']],
  [['max-forwards', '0']],
  [['x-http-method-override', 'DELETE']],
  [['x\u00ff', 'y']],
  [['', 'empty-name']],
  [['x-nul', 'a\u0000b']],
  [['x-crlf', 'a\r\nx-injected: 1']],
];
