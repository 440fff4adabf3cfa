import { z } from 'zod';
import { isStorableText } from './db/text.js';
import { InvalidInput } from './errors.js';

// Input validation shared by routes (http/input.ts reads the request) and services that take
// structured input themselves (a notary's registration upload).

/** A single-valued text field: repeated fields, NUL bytes and lone surrogates are refused. */
export const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((v) => isStorableText(v, max), { message: 'contains characters that are not allowed' });

/** Parses a value with a zod schema; failures become InvalidInput listing every field. */
export function parseInput<T extends z.ZodType>(value: unknown, schema: T): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new InvalidInput(
      parsed.error.issues.map((issue) => ({
        field: issue.path.join('.') || '(body)',
        code: issue.code,
        message: issue.message,
      })),
    );
  }
  return parsed.data;
}
