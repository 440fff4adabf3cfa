import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

/** docs/notary-openapi.yaml, parsed. */
export const notaryOpenApi = parse(readFileSync(resolve(process.cwd(), 'docs', 'notary-openapi.yaml'), 'utf8')) as {
  paths: Record<string, Record<string, Operation>>;
  components: { responses: Record<string, Response> };
};

export interface Media {
  schema?: unknown;
  example?: unknown;
  examples?: Record<string, { value: unknown }>;
}
export interface Response {
  $ref?: string;
  content?: Record<string, Media>;
}
export interface Operation {
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, Response>;
}

// The document as one schema resource, so that its `#/components/schemas/…` references resolve
// and any schema in it can be named by its JSON pointer. strict: false, for OpenAPI's keywords.
const BASE = 'https://notary-openapi.invalid/notary-openapi.yaml';
const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
ajv.addSchema({ ...notaryOpenApi, $id: BASE });

const compiled = new Map<string, ValidateFunction>();
const pointer = (...path: string[]) => path.map((p) => `/${p.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');

/** The errors of `value` against the schema at `path` in the document; empty when it is valid. */
export function schemaErrors(value: unknown, ...path: string[]): string[] {
  const at = `${BASE}#${pointer(...path)}`;
  let validate = compiled.get(at);
  if (!validate) compiled.set(at, (validate = ajv.compile({ $ref: at })));
  return validate(value) ? [] : describe(validate.errors);
}

const describe = (errors: ErrorObject[] | null | undefined) =>
  (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);

/** Where the schema of an operation's response lives (following a `$ref` to a shared response). */
export function responseSchemaPath(path: string, method: string, status: number, mediaType: string): string[] {
  const response = notaryOpenApi.paths[path]?.[method]?.responses[String(status)];
  if (!response) throw new Error(`the document has no ${status} answer for ${method.toUpperCase()} ${path}`);
  const where = response.$ref
    ? ['components', 'responses', response.$ref.split('/').at(-1)!]
    : ['paths', path, method, 'responses', String(status)];
  return [...where, 'content', mediaType, 'schema'];
}
