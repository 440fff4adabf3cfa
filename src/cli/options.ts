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
