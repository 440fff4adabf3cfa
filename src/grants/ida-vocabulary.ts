import type { DocumentType } from '../identity/document-number.js';

/**
 * The identifiers the dossier uses inside `verified_claims`, and the identity-assurance metadata
 * of the discovery document that lists them.
 *
 * OIDC4IDA 1.0 §12 ("Predefined values") leaves trust frameworks, document types, check methods
 * and record types to adopters, who "shall ensure the collision resistance of these identifiers
 * ... by including a domain name under the control of this party". Where the eKYC-IDA working
 * group's list of predefined values has a value that means the same thing, it is used; every other
 * value is the platform's own, under its issuer: `<issuer>/ida/<kind>/<name>`.
 */

/** Document types with a predefined eKYC-IDA value (the platform's own form/API names stay as they are). */
const PREDEFINED_DOCUMENTS: Partial<Record<DocumentType, string>> = {
  cn_resident_id: 'idcard',
  passport: 'passport',
  foreign_permanent_id: 'residence_permit',
  military_officer: 'military_id',
};

/** Check methods the platform's results rest on (predefined eKYC-IDA values). */
export const CHECK_METHODS = {
  /** The data was checked against the authoritative source (population register, carrier). */
  data: 'data',
  /** Biometric verification, remote: the live portrait matched to the document photo. */
  bvr: 'bvr',
  /** Physical verification in person: at a notary's counter. */
  pvp: 'pvp',
} as const;

/**
 * Claims a dossier can carry inside `verified_claims` (`nationality` is the platform's name,
 * `nationalities` IDA's).
 */
export const VERIFIED_CLAIM_NAMES = [
  'name',
  'family_name',
  'given_name',
  'birthdate',
  'gender',
  'nationality',
  'nationalities',
];

export interface IdaVocabulary {
  /** China's real-name registration rules, as the platform applies them. */
  trustFramework: string;
  documentType(type: DocumentType): string;
  /** The register a document check consulted (for a resident ID, the population register). */
  identityRegister: string;
  /** A mobile carrier's real-name subscriber record (the three-element phone check). */
  mobileSubscriber: string;
}

/** The platform's identifiers for an issuer (`https://id.example.cn` → `https://id.example.cn/ida/…`). */
export function idaVocabulary(issuer: string): IdaVocabulary {
  const own = (kind: string, name: string) => `${issuer.replace(/\/+$/, '')}/ida/${kind}/${name}`;
  return {
    trustFramework: own('trust_frameworks', 'cn_realname'),
    documentType: (type) => PREDEFINED_DOCUMENTS[type] ?? own('documents', type),
    identityRegister: own('records', 'identity_register'),
    mobileSubscriber: own('records', 'mobile_subscriber'),
  };
}

/**
 * The identity-assurance metadata of the discovery document: OIDC4IDA 1.0 §8 (final: the
 * `verified_claims_supported` of earlier drafts is gone) and OpenID Attachments 1.0 §8.
 */
export function idaDiscovery(issuer: string, documentTypes: readonly DocumentType[]) {
  const vocabulary = idaVocabulary(issuer);
  return {
    trust_frameworks_supported: [vocabulary.trustFramework],
    claims_in_verified_claims_supported: VERIFIED_CLAIM_NAMES,
    evidence_supported: ['document', 'electronic_record'],
    documents_supported: documentTypes.map(vocabulary.documentType),
    documents_check_methods_supported: Object.values(CHECK_METHODS),
    electronic_records_supported: [vocabulary.identityRegister, vocabulary.mobileSubscriber],
    attachments_supported: ['external'],
    digest_algorithms_supported: ['sha-256'],
  };
}
