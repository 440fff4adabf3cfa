/**
 * PostgreSQL text and jsonb cannot hold NUL, and lone UTF-16 surrogates cannot be encoded as
 * UTF-8 (errors 22021 / 22P05); such input must be refused before it reaches a query, or the
 * caller's mistake surfaces as a 500.
 */
export function isStorableText(value: string, maxLength = 10_000): boolean {
  return value.length <= maxLength && !value.includes('\u0000') && value.isWellFormed();
}
