// The API's own description (OpenAPI 3.1, docs/notary-openapi.yaml), public like the tree-head keys.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Context } from 'koa';

/** Serves the description, read once when the router is built. */
export function serveOpenapi() {
  const openapi = readFileSync(resolve(process.cwd(), 'docs', 'notary-openapi.yaml'));
  return (ctx: Context) => {
    ctx.type = 'application/yaml';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = openapi;
  };
}
