// Writes docs/notary-openapi.yaml, the notary API's OpenAPI 3.1 description, from
// scripts/notary-openapi.template.yaml (the prose, examples, responses and errors) and the zod
// schemas the API parses its input with (src/notary/schemas.ts, src/notary/registry.ts) and the
// audit log checks its events with (src/audit/events.ts), so the request and event schemas cannot
// drift from the code. `npm run docs:openapi`; test/unit/notary-openapi.test.ts fails when the
// checked-in file is not what this writes.
//
// In the template, a mapping with `$zod: <name>` becomes the JSON Schema of that zod schema
// (z.toJSONSchema, input side: what a client sends), its other members merged over it; members
// under `properties` must name fields the schema has. `parameters: {$zodParameters: <name>, in,
// examples}` becomes one parameter per field of an object schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { isMap, parseDocument, visit, type Document, type Node } from 'yaml';
import { z } from 'zod';
import {
  auditVerifyBody,
  clientAddBody,
  clientKeysBody,
  clientUpdateBody,
  keysRotateBody,
  accountDisableBody,
  operatorBody,
  securityLogBody,
  selfcheckBody,
} from '../src/admin/schemas.js';
import { EVENT_PAYLOADS, EVENT_TYPES } from '../src/audit/events.js';
import { DOCUMENT_TYPES } from '../src/identity/document-number.js';
import { recordSchema, uploadSchema } from '../src/notary/registry.js';
import { consistencyQuery, evidenceRequest, inclusionQuery, index, searchSchema } from '../src/notary/schemas.js';

export const TEMPLATE = resolve(process.cwd(), 'scripts', 'notary-openapi.template.yaml');
export const OUTPUT = resolve(process.cwd(), 'docs', 'notary-openapi.yaml');
/** The admin API's description (src/admin/), generated the same way. */
export const ADMIN_TEMPLATE = resolve(process.cwd(), 'scripts', 'admin-openapi.template.yaml');
export const ADMIN_OUTPUT = resolve(process.cwd(), 'docs', 'admin-openapi.yaml');

type JsonSchema = Record<string, unknown>;

const payload = <T extends keyof typeof EVENT_PAYLOADS>(type: T) => EVENT_PAYLOADS[type] as z.ZodObject;

/** The zod schemas a template may name. */
const SCHEMAS: Record<string, z.ZodType> = {
  searchSchema,
  index,
  inclusionQuery,
  consistencyQuery,
  evidenceRequest,
  registrationUpload: uploadSchema,
  registrationRecord: recordSchema,
  documentType: z.enum(DOCUMENT_TYPES),
  eventType: z.enum(EVENT_TYPES as [string, ...string[]]),
  id: payload('consent.revoked').shape.grant_id as z.ZodType,
  grantLevel: payload('consent.reconfirmation_failed').shape.level as z.ZodType,
  verificationMethod: payload('identity.verified').shape.method as z.ZodType,
  clientAddBody,
  clientUpdateBody,
  clientKeysBody,
  keysRotateBody,
  selfcheckBody,
  auditVerifyBody,
  operatorBody,
  accountDisableBody,
  securityLogBody,
};

/** Named components that generated schemas refer to wherever they contain the same schema. */
const SHARED: Array<[string, string]> = [
  ['DocumentType', 'documentType'],
  ['EventType', 'eventType'],
  ['GrantLevel', 'grantLevel'],
  ['VerificationMethod', 'verificationMethod'],
  ['Id', 'id'],
];

const INT_BOUND = Number.MAX_SAFE_INTEGER;

/** The JSON Schema of what a client sends, without the noise zod adds to every integer and date. */
function jsonSchema(schema: z.ZodType): JsonSchema {
  const out = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
    override: ({ jsonSchema: js }) => {
      // `int()` bounds every integer to the safe range, and `z.iso` adds its regexp to `format`.
      if (js.maximum === INT_BOUND) delete js.maximum;
      if (js.minimum === -INT_BOUND) delete js.minimum;
      if (typeof js.format === 'string' && js.pattern) delete js.pattern;
    },
  }) as JsonSchema;
  delete out.$schema;
  return out;
}

/** Replaces every subschema equal to a shared component (but the root) by a reference to it. */
function referShared(schema: unknown, root = true, self?: string): unknown {
  if (Array.isArray(schema)) return schema.map((s) => referShared(s, false, self));
  if (!schema || typeof schema !== 'object') return schema;
  if (!root) {
    for (const [component, name] of SHARED) {
      if (component !== self && isDeepStrictEqual(schema, jsonSchema(SCHEMAS[name]!)))
        return { $ref: `#/components/schemas/${component}` };
    }
  }
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, referShared(v, false, self)]));
}

/** `over` merged onto `base`; under `properties`, only fields `base` has. */
function mergeOnto(base: JsonSchema, over: JsonSchema, where: string): JsonSchema {
  const out: JsonSchema = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    if (key === 'properties' && value && typeof value === 'object') {
      const fields = (prev ?? {}) as JsonSchema;
      for (const field of Object.keys(value)) {
        if (!(field in fields)) throw new Error(`${where}: the template describes a field the schema lacks: ${field}`);
      }
    }
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && prev && typeof prev === 'object'
        ? mergeOnto(prev as JsonSchema, value as JsonSchema, `${where}.${key}`)
        : value;
  }
  return out;
}

function generated(name: string, where: string): JsonSchema {
  if (name.startsWith('payload:')) {
    const type = name.slice('payload:'.length) as keyof typeof EVENT_PAYLOADS;
    if (!(type in EVENT_PAYLOADS)) throw new Error(`${where}: no event type ${type}`);
    // As the log parses payloads (src/audit/events.ts parseEvent): unknown members refused.
    return referShared(jsonSchema(payload(type).strict()), true) as JsonSchema;
  }
  const schema = SCHEMAS[name];
  if (!schema) throw new Error(`${where}: no zod schema named ${name}`);
  const self = SHARED.find(([, n]) => n === name)?.[0];
  return referShared(jsonSchema(schema), true, self) as JsonSchema;
}

/** `allOf` of one `if type … then payload …` per event type: every type is covered. */
function payloadByType(): JsonSchema {
  return {
    allOf: EVENT_TYPES.map((type) => ({
      if: { properties: { type: { const: type } }, required: ['type'] },
      then: { properties: { payload: { $ref: `#/components/schemas/${payloadComponent(type)}` } } },
    })),
  };
}

/** `consent.granted` → `ConsentGrantedPayload`. */
export function payloadComponent(type: string): string {
  return `${type
    .split(/[._]/)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('')}Payload`;
}

function parameters(name: string, location: string, examples: Record<string, unknown>, where: string) {
  const schema = generated(name, where);
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  for (const field of Object.keys(examples)) {
    if (!(field in properties)) throw new Error(`${where}: an example for a parameter the schema lacks: ${field}`);
  }
  return Object.entries(properties).map(([field, { description, ...fieldSchema }]) => ({
    name: field,
    in: location,
    required: required.has(field),
    ...(description ? { description } : {}),
    schema: fieldSchema,
    ...(field in examples ? { example: examples[field] } : {}),
  }));
}

/** A node for generated JSON, written in flow style (`{ type: string }`) wherever that is short. */
function nodeOf(doc: Document, value: unknown): Node {
  const node = doc.createNode(value) as Node;
  visit(node, {
    Collection(_, collection) {
      if (JSON.stringify(collection.toJSON()).length <= 80) collection.flow = true;
    },
  });
  return node;
}

/** Expands the template's `$zod` and `$zodParameters` mappings in place. */
function expand(doc: Document, everyEvent: boolean): void {
  const placed = new Set<string>();
  visit(doc, {
    Map(_, node, path) {
      const where = path
        .filter((p) => (p as { key?: unknown }).key !== undefined)
        .map((p) => String((p as { key: { value?: unknown } }).key.value ?? ''))
        .join('.');
      const spec = node.toJSON() as Record<string, unknown>;
      if (typeof spec.$zodParameters === 'string') {
        const { $zodParameters, in: location, examples } = spec;
        return nodeOf(
          doc,
          parameters($zodParameters, String(location), (examples ?? {}) as Record<string, unknown>, where),
        );
      }
      if (typeof spec.$zod !== 'string') return undefined;
      const { $zod, ...over } = spec;
      if ($zod.startsWith('payload:')) placed.add($zod.slice('payload:'.length));
      const base = $zod === 'payloadByType' ? payloadByType() : generated($zod, where);
      return nodeOf(doc, mergeOnto(base, over, where));
    },
  });
  const missing = EVENT_TYPES.filter((type) => !placed.has(type));
  if (everyEvent && missing.length) throw new Error(`the template has no payload schema for ${missing.join(', ')}`);
}

const HEADER = [
  ' Generated by `npm run docs:openapi` (scripts/notary-openapi.ts) from',
  ' scripts/notary-openapi.template.yaml and the zod schemas of src/notary/ and src/audit/events.ts.',
  ' Edit those, not this file.',
].join('\n');

/** The notary API's OpenAPI document, as text. */
export function buildNotaryOpenApi(): string {
  return build(TEMPLATE, HEADER, true);
}

/** The admin API's OpenAPI document, as text. */
export function buildAdminOpenApi(): string {
  return build(
    ADMIN_TEMPLATE,
    [
      ' Generated by `npm run docs:openapi` (scripts/notary-openapi.ts) from',
      ' scripts/admin-openapi.template.yaml and the zod schemas of src/admin/schemas.ts.',
      ' Edit those, not this file.',
    ].join('\n'),
    false,
  );
}

function build(templateFile: string, header: string, everyEvent: boolean): string {
  // The template's opening comment explains the template; the output says it is generated instead.
  const template = readFileSync(templateFile, 'utf8').replace(/^(#.*\n)+\n?/, '');
  const doc = parseDocument(template);
  if (doc.errors.length) throw doc.errors[0]!;
  expand(doc, everyEvent);
  if (!isMap(doc.contents)) throw new Error('the template is not a mapping');
  doc.commentBefore = header;
  return doc.toString({ lineWidth: 0, singleQuote: true });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  writeFileSync(OUTPUT, buildNotaryOpenApi());
  console.log(`wrote ${OUTPUT}`);
  writeFileSync(ADMIN_OUTPUT, buildAdminOpenApi());
  console.log(`wrote ${ADMIN_OUTPUT}`);
}
