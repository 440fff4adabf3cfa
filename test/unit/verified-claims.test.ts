import { DOCUMENT_TYPES, type DocumentType } from '../../src/identity/document-number.js';
import type { Dossier } from '../../src/identity/service.js';
import type { VerificationMethod } from '../../src/identity/store.js';
import {
  answerVerifiedClaims,
  normalizeClaimsParameter,
  verifiedClaimsRequests,
} from '../../src/grants/ida-request.js';
import { idaDiscovery, idaVocabulary } from '../../src/grants/ida-vocabulary.js';
import { dossierClaims, type VerifiedClaims } from '../../src/grants/verified-claims.js';
import { claimsRequestSchemaErrors, verifiedClaimsSchemaErrors } from '../helpers/ida-schemas.js';

const ISSUER = 'https://id.example.cn';
const VERIFIED_AT = new Date('2026-11-23T18:25:43.123Z');
const NOW = Date.parse('2026-12-01T00:00:00Z');
const METHODS: VerificationMethod[] = ['document', 'person_match', 'offline_notary', 'phone_three_element'];
const NUMBERS: Record<DocumentType, string> = {
  cn_resident_id: '11010519491231002X',
  passport: 'E12345678',
  hk_macao_permit: 'C12345678',
  taiwan_permit: '12345678',
  foreign_permanent_id: '911156200001014412',
  military_officer: '军字第2001988号',
  other: 'AB123456',
};

function dossierOf(documentType: DocumentType, method: VerificationMethod): Dossier {
  return {
    documentType,
    documentNumber: NUMBERS[documentType],
    name: '张三',
    birthDate: '1949-12-31',
    gender: 'female',
    result: {
      id: 'result-1',
      method,
      verifiedAt: VERIFIED_AT,
      expiresAt: null,
      queriesLeft: null,
      provider: method === 'offline_notary' ? 'notary:n-1' : 'sandbox',
      ...(method === 'offline_notary' ? { notary: 'n-1' } : {}),
      reference: `ref-${method}`,
    },
    images:
      method === 'person_match'
        ? [
            {
              id: 'img-1',
              kind: 'portrait',
              contentType: 'image/png',
              digest: 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=',
            },
          ]
        : [],
  };
}

const refs = (dossier: Dossier) => ({
  issuer: ISSUER,
  verificationProcess: `${ISSUER}/api/notary/leaves/7`,
  attachmentUrl: (id: string) => `${ISSUER}/api/dossier/attachments/${id}`,
  ...(dossier.result.notary ? { organization: '北京市某公证处' } : {}),
});

const full = (type: DocumentType = 'cn_resident_id', method: VerificationMethod = 'person_match') =>
  dossierClaims(dossierOf(type, method), refs(dossierOf(type, method)));
const evidence = (answer: unknown) => (answer as VerifiedClaims).verification.evidence!;

describe('the dossier as verified_claims', () => {
  const metadata = idaDiscovery(ISSUER, DOCUMENT_TYPES);

  it.each(DOCUMENT_TYPES.flatMap((type) => METHODS.map((method) => [type, method] as const)))(
    'validates against the conformance suite schema for %s verified by %s, with only advertised values',
    (type, method) => {
      const claims = full(type, method);
      expect(verifiedClaimsSchemaErrors({ verified_claims: claims })).toEqual([]);
      expect(metadata.trust_frameworks_supported).toContain(claims.verification.trust_framework);
      for (const name of Object.keys(claims.claims))
        expect(metadata.claims_in_verified_claims_supported).toContain(name);
      const [item] = evidence(claims);
      expect(metadata.evidence_supported).toContain(item!.type);
      if (item!.type === 'document')
        expect(metadata.documents_supported).toContain((item!.document_details as { type: string }).type);
      if (item!.type === 'electronic_record')
        expect(metadata.electronic_records_supported).toContain((item!.record as { type: string }).type);
      for (const check of item!.check_details as Array<{ check_method: string; check_id: string }>) {
        expect(metadata.documents_check_methods_supported).toContain(check.check_method);
        expect(check.check_id).toBe(`ref-${method}`);
      }
    },
  );

  it('is refused by the schema when an external attachment carries content_type (the validator can fail)', () => {
    const claims = full();
    (evidence(claims)[0]!.attachments as Array<Record<string, unknown>>)[0]!.content_type = 'image/png';
    expect(verifiedClaimsSchemaErrors({ verified_claims: claims }).join('\n')).toMatch(/additionalProperties|content/);
  });

  it('says a typed check against a register is an electronic_record and a shown document is a document', () => {
    const vocabulary = idaVocabulary(ISSUER);
    expect(evidence(full('cn_resident_id', 'document'))).toEqual([
      {
        type: 'electronic_record',
        check_details: [{ check_method: 'data', check_id: 'ref-document', time: '2026-11-23T18:25:43Z' }],
        record: { type: vocabulary.identityRegister, source: { country_code: 'CHN' } },
      },
    ]);
    expect(evidence(full('passport', 'phone_three_element'))[0]).toMatchObject({
      type: 'electronic_record',
      record: { type: vocabulary.mobileSubscriber, source: { country_code: 'CHN' } },
    });
    expect(evidence(full('cn_resident_id', 'offline_notary'))[0]).toMatchObject({
      type: 'document',
      check_details: [{ check_method: 'pvp', organization: '北京市某公证处', check_id: 'ref-offline_notary' }],
      document_details: { type: 'idcard', document_number: NUMBERS.cn_resident_id, issuer: { country_code: 'CHN' } },
    });
    const [match] = evidence(full('cn_resident_id', 'person_match'));
    expect(
      (match!.check_details as Array<{ check_method: string; organization?: string }>).map((c) => [
        c.check_method,
        c.organization,
      ]),
    ).toEqual([
      ['data', undefined],
      ['bvr', undefined],
    ]);
    expect(match!.attachments).toEqual([
      {
        desc: 'portrait',
        url: `${ISSUER}/api/dossier/attachments/img-1`,
        digest: { alg: 'sha-256', value: 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=' },
      },
    ]);
  });

  it('names documents by the predefined IDA values where they exist, and by domain-qualified values otherwise', () => {
    const vocabulary = idaVocabulary(`${ISSUER}/`);
    expect(DOCUMENT_TYPES.map((type) => vocabulary.documentType(type))).toEqual([
      'idcard',
      'passport',
      `${ISSUER}/ida/documents/hk_macao_permit`,
      `${ISSUER}/ida/documents/taiwan_permit`,
      'residence_permit',
      'military_id',
      `${ISSUER}/ida/documents/other`,
    ]);
    expect(vocabulary.trustFramework).toBe(`${ISSUER}/ida/trust_frameworks/cn_realname`);
    expect(metadata).not.toHaveProperty('verified_claims_supported');
  });
});

describe('a verified_claims request', () => {
  const TF = idaVocabulary(ISSUER).trustFramework;
  const ask = (request: Record<string, unknown>, dossier = full()) => {
    // Every request here is one the conformance suite's request schema accepts.
    expect(claimsRequestSchemaErrors({ userinfo: { verified_claims: request } })).toEqual([]);
    const answer = answerVerifiedClaims(dossier, verifiedClaimsRequests(request), NOW);
    if (answer) expect(verifiedClaimsSchemaErrors({ verified_claims: answer })).toEqual([]);
    return answer as VerifiedClaims | VerifiedClaims[] | undefined;
  };
  const verification = { trust_framework: null };

  it('omits a claim whose value or values do not match, and keeps those that do (§5.7.4)', () => {
    expect(ask({ verification, claims: { name: { value: '李四' }, birthdate: null } })).toEqual({
      verification: { trust_framework: TF },
      claims: { birthdate: '1949-12-31' },
    });
    expect(ask({ verification, claims: { name: { values: ['李四', '张三'] }, gender: { value: 'male' } } })).toEqual({
      verification: { trust_framework: TF },
      claims: { name: '张三' },
    });
    expect(ask({ verification, claims: { nationalities: { value: ['CHN'] } } })).toMatchObject({
      claims: { nationalities: ['CHN'] },
    });
    // Nothing asked for can be given: no verified_claims at all.
    expect(ask({ verification, claims: { name: { value: '李四' } } })).toBeUndefined();
    // essential changes nothing (§5.7.1).
    expect(
      ask({ verification, claims: { name: { value: '李四', essential: true }, given_name: { essential: true } } }),
    ).toMatchObject({ claims: { given_name: '三' } });
  });

  it('applies max_age to dates and timestamps, in the verification and in claims (§5.5.2)', () => {
    const age = (NOW - VERIFIED_AT.getTime()) / 1000;
    expect(
      ask({ verification: { trust_framework: null, time: { max_age: Math.floor(age) - 1 } }, claims: { name: null } }),
    ).toBeUndefined();
    expect(
      ask({ verification: { trust_framework: null, time: { max_age: Math.ceil(age) } }, claims: { name: null } }),
    ).toEqual({
      verification: { trust_framework: TF, time: '2026-11-23T18:25:43Z' },
      claims: { name: '张三' },
    });
    // A birthdate counts from its last second: born 1949-12-31, so just over 76.9 years old at NOW.
    const born = (NOW - Date.parse('1949-12-31T23:59:59Z')) / 1000;
    expect(ask({ verification, claims: { birthdate: { max_age: Math.floor(born) - 1 }, name: null } })).toMatchObject({
      claims: { name: '张三' },
    });
    expect(
      (ask({ verification, claims: { birthdate: { max_age: Math.ceil(born) } } }) as VerifiedClaims).claims,
    ).toEqual({ birthdate: '1949-12-31' });
  });

  it('omits verified_claims for a requirement on verification it cannot meet, even on an element it does not hold', () => {
    expect(ask({ verification: { trust_framework: { value: 'de_aml' } }, claims: { name: null } })).toBeUndefined();
    expect(
      ask({ verification: { trust_framework: { values: ['de_aml', TF] } }, claims: { name: null } }),
    ).toMatchObject({ claims: { name: '张三' } });
    expect(
      ask({ verification: { trust_framework: null, assurance_level: { value: 'high' } }, claims: { name: null } }),
    ).toBeUndefined();
    // Asked for without a constraint, what the platform lacks is just left out.
    expect(
      ask({
        verification: { trust_framework: null, assurance_level: null, verification_process: null },
        claims: { name: null },
      }),
    ).toEqual({
      verification: { trust_framework: TF, verification_process: `${ISSUER}/api/notary/leaves/7` },
      claims: { name: '张三' },
    });
  });

  it('does not ignore check_details restrictions: only matching checks, no evidence when none matches (§5.4, §5.5.1)', () => {
    const documentType = { type: { value: 'document' } };
    expect(
      ask({
        verification: {
          trust_framework: null,
          evidence: [{ ...documentType, check_details: [{ check_method: { value: 'vpip' } }] }],
        },
        claims: { name: null },
      }),
    ).toBeUndefined();
    const bvr = ask({
      verification: {
        trust_framework: null,
        evidence: [{ ...documentType, check_details: [{ check_method: { value: 'bvr' }, time: null }] }],
      },
      claims: { name: null },
    });
    // Only the bvr check, with what was asked of it; and the evidence still says what document it is.
    expect(evidence(bvr)).toEqual([
      {
        type: 'document',
        check_details: [{ check_method: 'bvr', time: '2026-11-23T18:25:43Z' }],
        document_details: { type: 'idcard' },
      },
    ]);
    // Several entries for one sub-element are a logical OR.
    const either = ask({
      verification: {
        trust_framework: null,
        evidence: [
          {
            ...documentType,
            check_details: [{ check_method: { value: 'vpip' } }, { check_method: { value: 'data' }, check_id: null }],
          },
        ],
      },
      claims: { name: null },
    });
    expect(evidence(either)[0]!.check_details).toEqual([{ check_method: 'data', check_id: 'ref-person_match' }]);
    expect(
      ask({
        verification: {
          trust_framework: null,
          evidence: [{ ...documentType, check_details: [{ check_method: null, organization: { value: 'X' } }] }],
        },
        claims: { name: null },
      }),
    ).toBeUndefined();
  });

  it('filters on document_details and returns what its template names', () => {
    const filter = (document_details: unknown) => ({
      verification: { trust_framework: null, evidence: [{ type: { value: 'document' }, document_details }] },
      claims: { name: null },
    });
    expect(ask(filter({ type: { values: ['passport', 'residence_permit'] } }))).toBeUndefined();
    expect(evidence(ask(filter({ type: { values: ['passport', 'idcard'] }, issuer: { country_code: null } })))).toEqual(
      [{ type: 'document', document_details: { type: 'idcard', issuer: { country_code: 'CHN' } } }],
    );
    // null (outside the suite's request schema, which wants an object here, but OIDC Core's
    // default request) asks for the whole element.
    expect(evidence(answerVerifiedClaims(full(), verifiedClaimsRequests(filter(null)), NOW))).toEqual([
      {
        type: 'document',
        document_details: { type: 'idcard', document_number: NUMBERS.cn_resident_id, issuer: { country_code: 'CHN' } },
      },
    ]);
    // A date the document does not state cannot meet a max_age.
    expect(ask(filter({ type: null, date_of_expiry: { max_age: 100 } }))).toBeUndefined();
  });

  it('treats several evidence filters as a logical OR, each the template of what it selects', () => {
    const request = (dossier: VerifiedClaims) =>
      ask(
        {
          verification: {
            trust_framework: null,
            evidence: [
              { type: { value: 'electronic_record' }, record: { type: null, source: { country_code: null } } },
              { type: { value: 'document' }, check_details: [{ check_method: null }], attachments: null },
            ],
          },
          claims: { name: null },
        },
        dossier,
      );
    expect(evidence(request(full('cn_resident_id', 'document')))).toEqual([
      {
        type: 'electronic_record',
        record: { type: idaVocabulary(ISSUER).identityRegister, source: { country_code: 'CHN' } },
      },
    ]);
    const matched = evidence(request(full('cn_resident_id', 'person_match')));
    expect(matched).toEqual([
      {
        type: 'document',
        check_details: [{ check_method: 'data' }, { check_method: 'bvr' }],
        attachments: [expect.objectContaining({ desc: 'portrait' })],
        document_details: { type: 'idcard' },
      },
    ]);
  });

  it('answers an array of requests one by one, giving each it can meet (§5.6)', () => {
    const gold = { verification: { trust_framework: { value: 'gold' } }, claims: { name: null } };
    const ours = { verification: { trust_framework: { value: TF } }, claims: { given_name: null } };
    const document = {
      verification: { trust_framework: null, evidence: [{ type: { value: 'document' } }] },
      claims: { family_name: null },
    };
    expect(claimsRequestSchemaErrors({ id_token: { verified_claims: [gold, ours, document] } })).toEqual([]);
    const answers = answerVerifiedClaims(full(), verifiedClaimsRequests([gold, ours, document]), NOW);
    expect(verifiedClaimsSchemaErrors({ verified_claims: answers })).toEqual([]);
    expect(answers).toEqual([
      { verification: { trust_framework: TF }, claims: { given_name: '三' } },
      {
        verification: { trust_framework: TF, evidence: [{ type: 'document', document_details: { type: 'idcard' } }] },
        claims: { family_name: '张' },
      },
    ]);
    expect(answerVerifiedClaims(full(), verifiedClaimsRequests([gold, ours]), NOW)).toEqual({
      verification: { trust_framework: TF },
      claims: { given_name: '三' },
    });
    expect(answerVerifiedClaims(full(), verifiedClaimsRequests([gold]), NOW)).toBeUndefined();
  });
});

describe('the claims parameter', () => {
  const normalize = async (claims: Record<string, unknown>) => {
    const ctx = { oidc: { params: { claims: JSON.stringify(claims) } } };
    await normalizeClaimsParameter(ctx, claims);
    return JSON.parse(ctx.oidc.params.claims) as Record<string, Record<string, unknown>>;
  };
  const request = { verification: { trust_framework: null }, claims: { name: null } };

  it('is refused with invalid_request when a verified_claims request is malformed', async () => {
    for (const bad of [
      { userinfo: { verified_claims: [] } },
      { userinfo: { verified_claims: 'all' } },
      { userinfo: { verified_claims: { claims: { name: null } } } },
      { userinfo: { verified_claims: { verification: {}, claims: {} } } },
      {
        id_token: {
          verified_claims: [
            request,
            {
              verification: { trust_framework: null, evidence: [{ check_details: [{ check_method: null }] }] },
              claims: { name: null },
            },
          ],
        },
      },
      {
        userinfo: {
          verified_claims: {
            verification: { trust_framework: null, evidence: [{ type: { values: ['document'] } }] },
            claims: { name: null },
          },
        },
      },
      { userinfo: { verified_claims: { verification: { trust_framework: { values: [] } }, claims: { name: null } } } },
      {
        userinfo: {
          verified_claims: { verification: { trust_framework: null, time: { max_age: -1 } }, claims: { name: null } },
        },
      },
      {
        userinfo: {
          verified_claims: {
            verification: { trust_framework: null, evidence: [{ type: { value: 'document' }, check_details: {} }] },
            claims: { name: null },
          },
        },
      },
      { userinfo: { email: 'yes' } },
    ]) {
      await expect(normalize(bad)).rejects.toMatchObject({
        error: 'invalid_request',
        error_description: expect.stringMatching(/^claims\.(userinfo|id_token)\./),
      });
    }
  });

  it('names verified_claims in every member once one asks for it: a request in the ID token only leaves userinfo none', async () => {
    const normalized = await normalize({ id_token: { verified_claims: request, email: null } });
    expect(verifiedClaimsRequests(normalized.id_token!.verified_claims)).toEqual([request]);
    expect(verifiedClaimsRequests(normalized.userinfo!.verified_claims)).toEqual([]);
    expect(normalized.id_token!.email).toBeNull();
    // Arrays become objects oidc-provider passes on, and a normalized request normalizes to itself.
    const array = await normalize({ userinfo: { verified_claims: [request, request] } });
    expect(verifiedClaimsRequests(array.userinfo!.verified_claims)).toEqual([request, request]);
    expect(await normalize(array)).toEqual(array);
    // Without verified_claims the parameter is left as it came.
    const ctx = { oidc: { params: { claims: '{"userinfo":{"email":null}}' } } };
    await normalizeClaimsParameter(ctx, { userinfo: { email: null } });
    expect(ctx.oidc.params.claims).toBe('{"userinfo":{"email":null}}');
  });
});
