import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/**
 * The OpenID Foundation conformance suite's eKYC-IDA JSON schemas (test/fixtures/ekyc-ida/, with
 * their source and licence), compiled once: what the suite checks a provider's `verified_claims`
 * and a merchant's claims request against.
 */
const load = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/ekyc-ida/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;

// strict: false, as the schemas use `if`/`then` on properties they do not declare at that level.
const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
ajv.addSchema(load('claims_schema.json'));
ajv.addSchema(load('verified_claims_request.json'));
ajv.addSchema(load('verified_claims.json'));

const responseSchema = ajv.getSchema('https://bitbucket.org/openid/ekyc-ida/raw/master/schema/verified_claims.json')!;
const requestSchema = ajv.getSchema(
  'https://bitbucket.org/openid/ekyc-ida/raw/master/schema/verified_claims_request.json',
)!;

const describeErrors = (errors: ErrorObject[] | null | undefined) =>
  (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);

/**
 * The schema's errors for an ID token payload or userinfo response (any object with a
 * `verified_claims` member, as the suite wraps what it checks); an empty list when it is valid.
 */
export function verifiedClaimsSchemaErrors(payload: Record<string, unknown>): string[] {
  return responseSchema(payload) ? [] : describeErrors(responseSchema.errors);
}

/** The request schema's errors for a claims parameter (`{userinfo?, id_token?}`). */
export function claimsRequestSchemaErrors(claims: Record<string, unknown>): string[] {
  return requestSchema(claims) ? [] : describeErrors(requestSchema.errors);
}
