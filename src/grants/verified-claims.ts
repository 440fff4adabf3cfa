import type { DocumentType } from '../identity/document-number.js';
import type { Dossier } from '../identity/service.js';
import { CHECK_METHODS, idaVocabulary } from './ida-vocabulary.js';

/**
 * Level 3 (`realname:dossier`) in the shape of OpenID Connect for Identity Assurance 1.0 and the
 * OpenID Identity Assurance Schema Definition 1.0 (final, October 2024): `verified_claims` with
 * `verification` (trust framework, time, verification process, evidence) and `claims`. What a
 * claims request narrows it to is `ida-request.ts`; the identifiers are `ida-vocabulary.ts`.
 */

/** Documents issued by the People's Republic of China (ICAO 3-letter code, as IDA asks). */
const ISSUED_IN_CHINA = new Set<DocumentType>([
  'cn_resident_id',
  'hk_macao_permit',
  'taiwan_permit',
  'foreign_permanent_id',
  'military_officer',
]);
/** Documents held only by Chinese citizens: the holder's nationality is known from the type. */
const HELD_BY_CITIZENS = new Set<DocumentType>(['cn_resident_id', 'hk_macao_permit', 'military_officer']);

/** Compound Chinese surnames (复姓): the family name of a Han name is these two characters. */
const COMPOUND_SURNAMES = new Set(
  '欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 钟离 澹台 公冶 宗政 濮阳 淳于 单于 太叔 申屠 仲孙 闻人 万俟 赫连 呼延 端木 南宫 东郭 西门 百里 独孤 第五 左丘 谷梁 拓跋 司空 公羊 梁丘 即墨 羊舌 微生 亓官 司寇 巫马 乐正 壤驷 公良 漆雕 颛孙 子车 段干 闾丘 东门 鲜于'.split(
    ' ',
  ),
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

type Json = Record<string, unknown>;

export interface VerifiedClaims {
  verification: {
    trust_framework: string;
    time?: string;
    verification_process?: string;
    evidence?: Json[];
  };
  claims: Json;
}

export interface DossierRefs {
  issuer: string;
  /** The audit trail's reference of the verification (the notary API's address of its leaf). */
  verificationProcess?: string;
  /** The address of an image, served to the bearer of an access token of the grant. */
  attachmentUrl: (imageId: string) => string;
  /** The legal entity that performed the checks, when it was not the platform (a notary body). */
  organization?: string;
}

/** IDA's `YYYY-MM-DDThh:mm:ssZ`, in UTC (OIDC4IDA 1.0 §9: UTC unless there is a reason not to). */
const idaTime = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * The evidence of the result the dossier vouches with (Schema Definition 1.0 §5.4.4). A document
 * the person showed (a photo of it at a person-document match, the original at a notary's counter)
 * is evidence `document`; a check of typed data against an authoritative register (the document
 * check, the carrier's three-element check) is `electronic_record`: no document was presented.
 */
function evidenceOf(dossier: Dossier, refs: DossierRefs): Json {
  const vocabulary = idaVocabulary(refs.issuer);
  const { method, verifiedAt, reference } = dossier.result;
  const check = (check_method: string) => ({
    check_method,
    ...(refs.organization ? { organization: refs.organization } : {}),
    // The provider's (or notary's) reference of the check: resolvable in an audit (§5.4.4.2).
    ...(reference ? { check_id: reference } : {}),
    time: idaTime(verifiedAt),
  });
  const china = ISSUED_IN_CHINA.has(dossier.documentType) ? { country_code: 'CHN' } : undefined;
  if (method === 'document' || method === 'phone_three_element') {
    const type = method === 'document' ? vocabulary.identityRegister : vocabulary.mobileSubscriber;
    const source = method === 'phone_three_element' ? { country_code: 'CHN' } : china;
    return {
      type: 'electronic_record',
      check_details: [check(CHECK_METHODS.data)],
      record: { type, ...(source ? { source } : {}) },
    };
  }
  const checks = method === 'offline_notary' ? [CHECK_METHODS.pvp] : [CHECK_METHODS.data, CHECK_METHODS.bvr];
  return {
    type: 'document',
    check_details: checks.map(check),
    document_details: {
      type: vocabulary.documentType(dossier.documentType),
      document_number: dossier.documentNumber,
      ...(china ? { issuer: china } : {}),
    },
    // External attachments carry only Attachments 1.0 §4.2's members: the media type is the
    // response's Content-Type when the attachment is fetched.
    ...(dossier.images.length
      ? {
          attachments: dossier.images.map((image) => ({
            desc: image.kind,
            url: refs.attachmentUrl(image.id),
            digest: { alg: 'sha-256', value: image.digest },
          })),
        }
      : {}),
  };
}

/** The whole dossier as `verified_claims`. */
export function dossierClaims(dossier: Dossier, refs: DossierRefs): VerifiedClaims {
  const nationalities = HELD_BY_CITIZENS.has(dossier.documentType) ? ['CHN'] : undefined;
  return {
    verification: {
      trust_framework: idaVocabulary(refs.issuer).trustFramework,
      time: idaTime(dossier.result.verifiedAt),
      ...(refs.verificationProcess ? { verification_process: refs.verificationProcess } : {}),
      evidence: [evidenceOf(dossier, refs)],
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
