import type { Context } from 'koa';
import { z } from 'zod';
import { isStorableText } from '../db/text.js';
import { InvalidInput } from '../errors.js';

/** A single-valued text field: repeated fields, NUL bytes and lone surrogates are refused. */
export const text = (max: number) =>
  z.string().max(max).refine((v) => isStorableText(v, max), { message: 'contains characters that are not allowed' });

/** Parses a request body with a zod schema; failures become InvalidInput listing every field. */
export function parseBody<T extends z.ZodType>(ctx: Context, schema: T): z.output<T> {
  const body = (ctx.request as { body?: unknown }).body;
  const parsed = schema.safeParse(body && typeof body === 'object' ? body : {});
  if (!parsed.success) {
    throw new InvalidInput(
      parsed.error.issues.map((issue) => ({ field: issue.path.join('.') || '(body)', code: issue.code, message: issue.message })),
    );
  }
  return parsed.data;
}
