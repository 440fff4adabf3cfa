import { errors } from 'oidc-provider';
import type { Dossier } from '../identity/service.js';

/**
 * Level 3 (`realname:dossier`) in the shape of OpenID Connect for Identity Assurance 1.0 and the
 * OpenID Identity Assurance Schema Definition 1.0 (final, October 2024): `verified_claims` with
 * `verification` (trust framework, time, verification process, document evidence) and `claims`.
 */

/** The rules the platform verifies under: China's real-name registration requirements. */
export const TRUST_FRAMEWORK = 'cn_realname';

/** The platform's document types as IDA document types (its predefined values where one fits). */
const IDA_DOCUMENT_TYPES: Record<string, string> = {
  cn_resident_id: 'idcard',
  passport: 'passport',
  foreign_permanent_id: 'residence_permit',
  hk_macao_permit: 'hk_macao_permit',
  taiwan_permit: 'taiwan_permit',
  military_officer: 'military_officer',
  other: 'other',
};

/** Documents issued by the People's Republic of China (ICAO 3-letter code, as IDA asks). */
const ISSUED_IN_CHINA = new Set(['cn_resident_id', 'hk_macao_permit', 'taiwan_permit', 'foreign_permanent_id', 'military_officer']);
/** Documents held only by Chinese citizens: the holder's nationality is known from the type. */
const HELD_BY_CITIZENS = new Set(['cn_resident_id', 'hk_macao_permit', 'military_officer']);

/** Claims a dossier can carry inside `verified_claims` (`nationality` is DESIGN.md's name, `nationalities` IDA's). */
export const VERIFIED_CLAIM_NAMES = ['name', 'family_name', 'given_name', 'birthdate', 'gender', 'nationality', 'nationalities'];

/** How each method checked the evidence (IDA check_method values). */
const CHECK_METHODS: Record<string, string[]> = {
  // Data validated against an authoritative source (the population register, the carrier).
  document: ['data'],
  phone_three_element: ['data'],
  // ...and the live portrait matched to the document photo, remotely.
  person_match: ['data', 'bvr'],
  // Physical verification in person, at a notary's counter.
  offline_notary: ['pvp'],
};

/** The identity-assurance metadata of the discovery document (IDA 1.0 §8). */
export const IDA_DISCOVERY = {
  verified_claims_supported: true,
  trust_frameworks_supported: [TRUST_FRAMEWORK],
  evidence_supported: ['document'],
  documents_supported: [...new Set(Object.values(IDA_DOCUMENT_TYPES))],
  documents_check_methods_supported: ['data', 'bvr', 'pvp'],
  claims_in_verified_claims_supported: VERIFIED_CLAIM_NAMES,
  attachments_supported: ['external'],
  digest_algorithms_supported: ['sha-256'],
};

/** Compound Chinese surnames (复姓): the family name of a Han name is these two characters. */
const COMPOUND_SURNAMES = new Set(
  '欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 钟离 澹台 公冶 宗政 濮阳 淳于 单于 太叔 申屠 仲孙 闻人 万俟 赫连 呼延 端木 南宫 东郭 西门 百里 独孤 第五 左丘 谷梁 拓跋 司空 公羊 梁丘 即墨 羊舌 微生 亓官 司寇 巫马 乐正 壤驷 公良 漆雕 颛孙 子车 段干 闾丘 东门 鲜于'.split(' '),
);

/**
 * Family and given name where the name says so: a Han name of two to four characters is family
 * name first (a compound surname takes two). Other names (with a middle dot, in Latin letters)
 * do not say which part is which, so they are not split.
 */
export function splitHanName(name: string): { family_name: string; given_name: string } | undefined {
  const chars = [...name];
  if (chars.length < 2 || chars.length > 4 || !/^\p{Script=Han}+$/u.test(name)) return undefined;
  const family = chars.length >= 3 && COMPOUND_SURNAMES.has(chars.slice(0, 2).join('')) ? 2 : 1;
  return { family_name: chars.slice(0, family).join(''), given_name: chars.slice(family).join('') };
}

export interface VerifiedClaims {
  verification: {
    trust_framework: string;
    time?: string;
    verification_process?: string;
    evidence?: Array<Record<string, unknown>>;
  };
  claims: Record<string, unknown>;
}

/**
 * The whole dossier as `verified_claims`. `verificationProcess` is the audit trail's reference
 * of the verification (the notary API's address of its leaf); `attachmentUrl` gives the address
 * of an image, served to the bearer of an access token of the grant.
 */
export function dossierClaims(dossier: Dossier, refs: { verificationProcess?: string; attachmentUrl: (imageId: string) => string }): VerifiedClaims {
  const time = dossier.result.verifiedAt.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const nationalities = HELD_BY_CITIZENS.has(dossier.documentType) ? ['CHN'] : undefined;
  const evidence: Record<string, unknown> = {
    type: 'document',
    check_details: CHECK_METHODS[dossier.result.method]!.map((check_method) => ({ check_method, organization: dossier.result.provider, time })),
    document_details: {
      type: IDA_DOCUMENT_TYPES[dossier.documentType] ?? 'other',
      document_number: dossier.documentNumber,
      ...(ISSUED_IN_CHINA.has(dossier.documentType) ? { issuer: { country_code: 'CHN' } } : {}),
    },
  };
  if (dossier.images.length) {
    evidence.attachments = dossier.images.map((image) => ({
      desc: image.kind,
      content_type: image.contentType,
      url: refs.attachmentUrl(image.id),
      digest: { alg: 'sha-256', value: image.digest },
    }));
  }
  return {
    verification: {
      trust_framework: TRUST_FRAMEWORK,
      time,
      ...(refs.verificationProcess ? { verification_process: refs.verificationProcess } : {}),
      evidence: [evidence],
    },
    claims: {
      name: dossier.name,
      ...splitHanName(dossier.name),
      ...(dossier.birthDate ? { birthdate: dossier.birthDate } : {}),
      ...(dossier.gender ? { gender: dossier.gender } : {}),
      ...(nationalities ? { nationality: nationalities[0], nationalities } : {}),
    },
  };
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Whether a value meets a request's `value`/`values` constraint (IDA 1.0 §6.5). */
function meets(constraint: unknown, actual: unknown): boolean {
  if (!isObject(constraint)) return true;
  if ('value' in constraint && constraint.value !== actual) return false;
  if (Array.isArray(constraint.values) && !constraint.values.includes(actual)) return false;
  return true;
}

/**
 * What one `verified_claims` request gets of the dossier (IDA 1.0 §6): only the claims it names
 * and the verification elements it names (`trust_framework` always), or nothing when a
 * constraint cannot be met (another trust framework, a verification older than `max_age`,
 * another evidence or document type) or none of the claims it names is known.
 */
function answer(full: VerifiedClaims, request: Json): VerifiedClaims | undefined {
  const verification = request.verification as Json;
  if (!meets(verification.trust_framework, full.verification.trust_framework)) return undefined;
  const time = verification.time;
  if (isObject(time) && typeof time.max_age === 'number' && Date.parse(full.verification.time!) < Date.now() - time.max_age * 1000) return undefined;
  const out: VerifiedClaims['verification'] = { trust_framework: full.verification.trust_framework };
  if ('time' in verification) out.time = full.verification.time;
  if ('verification_process' in verification && full.verification.verification_process) out.verification_process = full.verification.verification_process;
  if ('evidence' in verification) {
    const wanted = Array.isArray(verification.evidence) ? verification.evidence.filter(isObject) : [];
    const evidence = full.verification.evidence!.filter((item) => {
      if (!wanted.length) return true;
      return wanted.some((w) => meets(w.type, item.type) && (!isObject(w.document_details) || meets(w.document_details.type, (item.document_details as Json).type)));
    });
    if (!evidence.length) return undefined;
    // Each evidence carries what was asked of it; attachments only when asked for.
    const asked = wanted[0];
    out.evidence = evidence.map((item) => {
      if (!asked) return item;
      const kept: Json = { type: item.type };
      for (const key of Object.keys(asked)) if (key !== 'type' && key in item) kept[key] = item[key];
      return kept;
    });
  }
  const claims: Json = {};
  for (const name of Object.keys(request.claims as Json)) if (name in full.claims) claims[name] = full.claims[name];
  if (!Object.keys(claims).length) return undefined;
  return { verification: out, claims };
}

/**
 * The `verified_claims` a merchant receives: the whole dossier for the scope alone, or what a
 * `claims` parameter request (an object, or an array of alternatives) narrows it to.
 */
export function answerVerifiedClaims(full: VerifiedClaims, request: unknown): VerifiedClaims | VerifiedClaims[] | undefined {
  if (request === undefined || request === null) return full;
  const requests = Array.isArray(request) ? request : [request];
  const answers = requests.map((r) => answer(full, r as Json)).filter((a): a is VerifiedClaims => a !== undefined);
  if (!answers.length) return undefined;
  return answers.length === 1 ? answers[0] : answers;
}

/**
 * Checks the claims parameter (OIDC Core §5.5, IDA 1.0 §6): each container's members are null or
 * objects, and a `verified_claims` request is an object (or a non-empty array of them) with a
 * `verification` object and a non-empty `claims` object. A bad request fails with
 * `invalid_request`, returned to the merchant.
 */
export async function assertClaimsParameter(_ctx: unknown, claims: Json): Promise<void> {
  for (const container of ['userinfo', 'id_token']) {
    const requested = claims[container];
    if (requested === undefined) continue;
    for (const [name, value] of Object.entries(requested as Json)) {
      if (name === 'verified_claims' && Array.isArray(value)) continue;
      if (value !== null && !isObject(value)) throw new errors.InvalidRequest(`claims.${container}.${name} must be null or an object`);
    }
    const verified = (requested as Json).verified_claims;
    if (verified === undefined) continue;
    const items = Array.isArray(verified) ? verified : [verified];
    if (!items.length) throw new errors.InvalidRequest(`claims.${container}.verified_claims must not be an empty array`);
    for (const item of items) {
      if (!isObject(item)) throw new errors.InvalidRequest(`claims.${container}.verified_claims must be an object or an array of objects`);
      if (!isObject(item.verification)) throw new errors.InvalidRequest(`claims.${container}.verified_claims.verification must be an object`);
      if (!isObject(item.claims) || !Object.keys(item.claims).length) {
        throw new errors.InvalidRequest(`claims.${container}.verified_claims.claims must name at least one claim`);
      }
      for (const value of [...Object.values(item.claims), ...Object.values(item.verification)]) {
        if (value !== null && !isObject(value) && !Array.isArray(value)) {
          throw new errors.InvalidRequest(`claims.${container}.verified_claims members must be null, objects or arrays`);
        }
      }
    }
  }
}
