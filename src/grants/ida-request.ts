import { errors } from 'oidc-provider';
import type { VerifiedClaims } from './verified-claims.js';

/**
 * What a `verified_claims` request in the claims parameter gets of the dossier: OpenID Connect
 * for Identity Assurance 1.0 §5.3–§5.7 (final, October 2024). The numbers below are that
 * document's sections.
 */

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * oidc-provider passes on only claim requests whose value is null or an object (OIDC Core §5.5),
 * so an array of `verified_claims` requests (§5.6) would be dropped on the way to the grant, the
 * tokens and the claims masks. `normalizeClaimsParameter` therefore wraps the requests of each
 * member in one object under this member name; `verifiedClaimsRequests` unwraps them.
 */
const REQUESTS = 'urn:realname:verified_claims:requests';

/** The `verified_claims` requests of one member: undefined when the member names none. */
export function verifiedClaimsRequests(value: unknown): Json[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (isObject(value) && Array.isArray(value[REQUESTS])) return value[REQUESTS] as Json[];
  // A token issued before requests were wrapped holds them as the merchant sent them.
  return (Array.isArray(value) ? value : [value]).filter(isObject);
}

const fail = (where: string, what: string) => new errors.InvalidRequest(`claims.${where} ${what}`);

/** A `value`/`values`/`max_age` constraint is well formed (§5.5; the request schema's elements). */
function assertConstraint(where: string, element: unknown): void {
  if (element === null) return;
  if (!isObject(element)) throw fail(where, 'must be null or an object');
  if ('essential' in element && typeof element.essential !== 'boolean')
    throw fail(where, 'essential must be a boolean');
  if ('values' in element && (!Array.isArray(element.values) || !element.values.length))
    throw fail(where, 'values must be a non-empty array');
  if ('max_age' in element && !(Number.isInteger(element.max_age) && (element.max_age as number) >= 0))
    throw fail(where, 'max_age must be a non-negative integer');
}

/** Each element of an object request: a constraint, or (for nested objects like `issuer`) an object of them. */
function assertElements(where: string, request: Json, nested: readonly string[] = []): void {
  for (const [name, element] of Object.entries(request)) {
    if (nested.includes(name) && isObject(element)) assertElements(`${where}.${name}`, element);
    else assertConstraint(`${where}.${name}`, element);
  }
}

function assertEvidenceFilter(where: string, filter: unknown): void {
  if (!isObject(filter)) throw fail(where, 'must be an object');
  // §5.4: "The RP therefore shall specify this type by including the type field including a
  // suitable value sub-element value."
  if (!isObject(filter.type) || typeof filter.type.value !== 'string')
    throw fail(`${where}.type`, 'must name the evidence type with value');
  for (const [name, element] of Object.entries(filter)) {
    const at = `${where}.${name}`;
    if (name === 'check_details') {
      if (!Array.isArray(element) || !element.length || !element.every(isObject))
        throw fail(at, 'must be a non-empty array of objects');
      element.forEach((entry, i) => assertElements(`${at}[${i}]`, entry as Json));
    } else if (name === 'document_details' || name === 'record' || name === 'attestation') {
      if (element === null) continue;
      if (!isObject(element)) throw fail(at, 'must be null or an object');
      assertElements(at, element, ['issuer', 'source', 'voucher']);
    } else {
      assertConstraint(at, element);
    }
  }
}

/** One `verified_claims` request object (§5.3, §5.4). */
function assertRequest(where: string, request: unknown): void {
  if (!isObject(request)) throw fail(where, 'must be an object or an array of objects');
  const { verification, claims } = request;
  if (!isObject(verification)) throw fail(`${where}.verification`, 'must be an object');
  if (!isObject(claims) || !Object.keys(claims).length) throw fail(`${where}.claims`, 'must name at least one claim');
  assertElements(`${where}.claims`, claims);
  for (const [name, element] of Object.entries(verification)) {
    const at = `${where}.verification.${name}`;
    if (name === 'evidence') {
      if (!Array.isArray(element) || !element.length) throw fail(at, 'must be a non-empty array');
      element.forEach((filter, i) => assertEvidenceFilter(`${at}[${i}]`, filter));
    } else if (name === 'assurance_process') {
      if (!isObject(element)) throw fail(at, 'must be an object');
    } else {
      assertConstraint(at, element);
    }
  }
}

/**
 * Checks the claims parameter (OIDC Core §5.5, OIDC4IDA §5.3–§5.6) and rewrites it for
 * oidc-provider (its `claimsParameter.assertClaimsParameter` hook, run before it reads
 * `params.claims`): a malformed request fails with `invalid_request`, returned to the merchant.
 *
 * Where `verified_claims` is released when the claims parameter names it: exactly in the members
 * that name it, narrowed by each member's requests, and in no other. The scope
 * `realname:dossier` alone releases the whole dossier at userinfo; once the claims parameter asks
 * for `verified_claims` anywhere, the member that does not ask gets none (so a request "only in
 * the ID token" keeps it out of userinfo, §5.2). The scope stays required: it is the person's
 * choice of level, which the claims parameter narrows and never raises.
 */
export async function normalizeClaimsParameter(ctx: unknown, claims: Json): Promise<void> {
  const members = ['userinfo', 'id_token'] as const;
  for (const member of members) {
    const requested = claims[member];
    if (requested === undefined) continue;
    for (const [name, value] of Object.entries(requested as Json)) {
      if (name === 'verified_claims') continue;
      if (value !== null && !isObject(value)) throw fail(`${member}.${name}`, 'must be null or an object');
    }
    const verified = (requested as Json).verified_claims;
    if (verified === undefined) continue;
    if (Array.isArray(verified) && !verified.length)
      throw fail(`${member}.verified_claims`, 'must not be an empty array');
    const requests = isObject(verified) && REQUESTS in verified ? verified[REQUESTS] : verified;
    (Array.isArray(requests) ? requests : [requests]).forEach((request, i) =>
      assertRequest(`${member}.verified_claims${Array.isArray(requests) ? `[${i}]` : ''}`, request),
    );
  }
  if (!members.some((member) => isObject(claims[member]) && (claims[member] as Json).verified_claims !== undefined))
    return;
  for (const member of members) {
    const requested = { ...(claims[member] as Json | undefined) };
    requested.verified_claims = { [REQUESTS]: verifiedClaimsRequests(requested.verified_claims) ?? [] };
    claims[member] = requested;
  }
  const params = (ctx as { oidc: { params: { claims?: string } } }).oidc.params;
  params.claims = JSON.stringify(claims);
}

/** Seconds from a date (`YYYY-MM-DD`, to its last second) or timestamp to now. */
function ageOf(value: unknown, now: number): number | undefined {
  if (typeof value !== 'string') return undefined;
  const date = /^\d{4}-\d\d-\d\d$/.test(value) ? Date.parse(`${value}T23:59:59Z`) : Date.parse(value);
  return Number.isNaN(date) ? undefined : (now - date) / 1000;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Whether a value meets a request element's `value`, `values` and `max_age` (§5.5.1, §5.5.2); an
 * element without them is met by anything, a constraint on a value the platform lacks by nothing.
 */
function meets(element: unknown, actual: unknown, now: number): boolean {
  if (!isObject(element)) return true;
  const constrained = 'value' in element || 'values' in element || 'max_age' in element;
  if (!constrained) return true;
  if (actual === undefined) return false;
  if ('value' in element && !same(element.value, actual)) return false;
  if (Array.isArray(element.values) && !element.values.some((value) => same(value, actual))) return false;
  if (typeof element.max_age === 'number') {
    const age = ageOf(actual, now);
    if (age === undefined || age > element.max_age) return false;
  }
  return true;
}

/** A request element that names sub-elements (`issuer: {country: null}`), not a constraint on a value. */
const isTemplate = (element: unknown): element is Json =>
  isObject(element) &&
  Object.keys(element).length > 0 &&
  !['value', 'values', 'max_age', 'essential'].some((key) => key in element);

/**
 * An object the platform holds (`document_details`, `record`, a `check_details` entry) as a
 * request template asks for it: undefined when a constraint is not met, else the `required`
 * members and those asked for (a member asked for with null, whole; a nested template, likewise).
 */
function pick(template: Json, actual: Json, required: readonly string[], now: number): Json | undefined {
  const out: Json = {};
  for (const name of required) if (name in actual) out[name] = actual[name];
  for (const [name, element] of Object.entries(template)) {
    const value = actual[name];
    if (isTemplate(element)) {
      const nested = pick(element, isObject(value) ? value : {}, [], now);
      if (!nested) return undefined;
      if (Object.keys(nested).length) out[name] = nested;
    } else {
      if (!meets(element, value, now)) return undefined;
      if (value !== undefined) out[name] = value;
    }
  }
  return out;
}

/** The member that says what each evidence type is: it stays in every answer, with its `type`. */
const DESCRIPTION_OF: Record<string, string> = {
  document: 'document_details',
  electronic_record: 'record',
  vouch: 'attestation',
};

/**
 * One evidence as an evidence filter asks for it (§5.4): undefined when it is another type or a
 * constraint is not met; else its `type`, the `check_details` entries that meet one of the
 * filter's entries (several entries are a logical OR), and each other member asked for.
 */
function filterEvidence(filter: Json, evidence: Json, now: number): Json | undefined {
  if (!meets(filter.type, evidence.type, now)) return undefined;
  const out: Json = { type: evidence.type };
  for (const [name, element] of Object.entries(filter)) {
    if (name === 'type') continue;
    const value = evidence[name];
    if (name === 'check_details') {
      const entries = (Array.isArray(value) ? (value as Json[]) : []).flatMap((entry) => {
        const kept = (element as Json[])
          .map((wanted) => pick(wanted, entry, ['check_method'], now))
          .find((picked) => picked !== undefined);
        return kept ? [kept] : [];
      });
      if (!entries.length) return undefined;
      out.check_details = entries;
    } else if (isTemplate(element)) {
      const picked = pick(element, isObject(value) ? value : {}, ['type'], now);
      if (!picked) return undefined;
      if (isObject(value)) out[name] = picked;
    } else {
      if (!meets(element, value, now)) return undefined;
      if (value !== undefined) out[name] = value;
    }
  }
  // The evidence's own description (document_details or record, with its type) goes with it even
  // when only check_details was asked for: without it the evidence says nothing of what it is.
  const description = DESCRIPTION_OF[String(evidence.type)];
  if (description && !(description in out) && isObject(evidence[description]))
    out[description] = { type: (evidence[description] as Json).type };
  return out;
}

/**
 * What one `verified_claims` request gets of the dossier (§5.3–§5.5, §5.7): undefined when a
 * requirement on `verification` cannot be met (§5.7.4: the whole element is omitted) or none of
 * the claims it names can be given; else `trust_framework`, the verification elements asked for,
 * the evidence its filters select (each answered with the template of the first filter it meets),
 * and the claims asked for whose constraints are met (§5.7.4: the others are omitted).
 */
function answer(full: VerifiedClaims, request: Json, now: number): VerifiedClaims | undefined {
  const verification = request.verification as Json;
  const available = full.verification as Json;
  const out: Json = { trust_framework: full.verification.trust_framework };
  for (const [name, element] of Object.entries(verification)) {
    if (name === 'evidence') {
      const filters = element as Json[];
      const evidence = (full.verification.evidence ?? []).flatMap((item) => {
        const answered = filters.map((filter) => filterEvidence(filter, item, now)).find((kept) => kept !== undefined);
        return answered ? [answered] : [];
      });
      if (!evidence.length) return undefined;
      out.evidence = evidence;
    } else if (isTemplate(element)) {
      // assurance_process, which the platform does not state: unavailable data (§5.7.2) is
      // omitted, but a constraint inside it cannot be met.
      const picked = pick(element, isObject(available[name]) ? (available[name] as Json) : {}, [], now);
      if (!picked) return undefined;
      if (Object.keys(picked).length) out[name] = picked;
    } else {
      if (!meets(element, available[name], now)) return undefined;
      if (available[name] !== undefined) out[name] = available[name];
    }
  }
  const claims: Json = {};
  for (const [name, element] of Object.entries(request.claims as Json)) {
    if (name in full.claims && meets(element, full.claims[name], now)) claims[name] = full.claims[name];
  }
  if (!Object.keys(claims).length) return undefined;
  return { verification: out as VerifiedClaims['verification'], claims };
}

/**
 * The `verified_claims` a merchant receives: the whole dossier when the claims parameter names
 * none (`requests` undefined: the scope alone), else one answer per request the dossier can meet
 * (§5.6: each request is processed on its own), nothing when it meets none.
 */
export function answerVerifiedClaims(
  full: VerifiedClaims,
  requests: Json[] | undefined,
  now = Date.now(),
): VerifiedClaims | VerifiedClaims[] | undefined {
  if (requests === undefined) return full;
  const answers = requests
    .map((request) => answer(full, request, now))
    .filter((a): a is VerifiedClaims => a !== undefined);
  if (!answers.length) return undefined;
  return answers.length === 1 ? answers[0] : answers;
}
