import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ADMIN_OUTPUT, buildAdminOpenApi } from '../../scripts/notary-openapi.js';
import { clientAddBody, clientUpdateBody } from '../../src/admin/schemas.js';

describe('docs/admin-openapi.yaml', () => {
  it('is what `npm run docs:openapi` writes from the template and the zod schemas (run it after changing either)', () => {
    expect(readFileSync(ADMIN_OUTPUT, 'utf8')).toBe(buildAdminOpenApi());
  });

  it('gives request examples that the API accepts', () => {
    const document = parse(readFileSync(ADMIN_OUTPUT, 'utf8')) as {
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { example?: unknown }> } }>>;
    };
    const add = document.paths['/clients']!.post!.requestBody!.content['application/json']!.example;
    const update = document.paths['/clients/{client_id}']!.patch!.requestBody!.content['application/json']!.example;
    expect(clientAddBody.safeParse(add).success).toBe(true);
    expect(clientUpdateBody.safeParse(update).success).toBe(true);
  });
});
