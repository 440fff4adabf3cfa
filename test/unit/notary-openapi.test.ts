import { readFileSync } from 'node:fs';
import { buildNotaryOpenApi, OUTPUT } from '../../scripts/notary-openapi.js';
import { notaryOpenApi, schemaErrors, type Media, type Response } from '../helpers/notary-openapi.js';

describe('docs/notary-openapi.yaml', () => {
  it('is what `npm run docs:openapi` writes from the template and the zod schemas (run it after changing either)', () => {
    expect(readFileSync(OUTPUT, 'utf8')).toBe(buildNotaryOpenApi());
  });

  it('gives examples that its own schemas accept', () => {
    const failures: string[] = [];
    const check = (media: Media, where: string[]) => {
      const examples = {
        ...(media.example === undefined ? {} : { example: media.example }),
        ...Object.fromEntries(Object.entries(media.examples ?? {}).map(([name, e]) => [name, e.value])),
      };
      for (const [name, value] of Object.entries(examples)) {
        const errors = schemaErrors(value, ...where, 'schema');
        if (errors.length) failures.push(`${where.join(' ')} ${name}: ${errors.join('; ')}`);
      }
    };
    let checked = 0;
    for (const [path, operations] of Object.entries(notaryOpenApi.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        for (const [type, media] of Object.entries(operation.requestBody?.content ?? {})) {
          check(media, ['paths', path, method, 'requestBody', 'content', type]);
          checked += 1;
        }
        for (const [status, response] of Object.entries(operation.responses as Record<string, Response>)) {
          if (response.$ref) continue; // shared responses are checked once, below
          for (const [type, media] of Object.entries(response.content ?? {})) {
            check(media, ['paths', path, method, 'responses', status, 'content', type]);
            checked += 1;
          }
        }
      }
    }
    for (const [name, response] of Object.entries(notaryOpenApi.components.responses)) {
      for (const [type, media] of Object.entries(response.content ?? {})) {
        check(media, ['components', 'responses', name, 'content', type]);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(20);
    expect(failures).toEqual([]);
  });
});
