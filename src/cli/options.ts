import { InvalidInput } from '../errors.js';

export type Options = Record<string, string | string[] | boolean | undefined>;

export function requireOption(options: Options, name: string): string {
  const value = options[name];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new InvalidInput([{ field: name, code: 'required', message: `--${name} is required` }]);
  }
  return value;
}

/** A repeatable and/or comma-separated option as a list. */
export function listOption(options: Options, name: string): string[] {
  const value = options[name];
  const values = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

/** A `YYYY-MM-DD` option as midnight UTC of that day, or undefined when not given. */
export function dateOption(options: Options, name: string): Date | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new InvalidInput([
      { field: name, code: 'invalid_date', message: `--${name} must be a date like 2026-11-01` },
    ]);
  }
  return new Date(`${value}T00:00:00Z`);
}
