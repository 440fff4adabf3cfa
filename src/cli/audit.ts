import { readFile } from 'node:fs/promises';
import type { JSONWebKeySet } from 'jose';
import { checkLog } from '../audit/check.js';
import { verifyEvidenceBundle, type EvidenceBundle } from '../audit/verify.js';
import { InvalidInput } from '../errors.js';
import type { CliContext } from './context.js';
import type { Options } from './options.js';

/** `audit verify`: recomputes the whole tree and checks every stored signed head. Exit 1 if bad. */
export async function auditVerify(ctx: CliContext): Promise<number> {
  const report = await checkLog(ctx.db);
  ctx.print(
    { ...report },
    report.ok
      ? `Audit trail intact: ${report.leaves} leaves, ${report.nodes_checked} stored nodes and ${report.heads} signed tree heads check out.${report.queued ? ` ${report.queued} events are queued for the tree.` : ''}`
      : [
          `Audit trail DAMAGED${report.first_bad_leaf ? `: first bad leaf ${report.first_bad_leaf.leaf_index} (${report.first_bad_leaf.problem})` : ''}`,
          ...report.errors.map((e) => `  - ${e}`),
        ].join('\n'),
  );
  return report.ok ? 0 : 1;
}

/** Reads JSON from a file path or an http(s) URL. */
async function readJson(source: string, field: string): Promise<unknown> {
  try {
    const text = /^https?:\/\//.test(source) ? await (await fetch(source)).text() : await readFile(source, 'utf8');
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidInput([{ field, code: 'unreadable', message: `cannot read JSON from ${source}: ${(err as Error).message}` }]);
  }
}

/**
 * `audit verify-bundle FILE [--keys FILE|URL]`: checks an evidence bundle offline, with no
 * database. `--keys` is the platform's published tree-head JWKS (GET /api/notary/keys), which a
 * notary keeps; without it the bundle's own copy of the keys is used, with a warning.
 */
export async function auditVerifyBundle(print: CliContext['print'], file: string | undefined, options: Options): Promise<number> {
  if (!file) throw new InvalidInput([{ field: 'file', code: 'required', message: 'name the bundle file: audit verify-bundle FILE' }]);
  const bundle = (await readJson(file, 'file')) as EvidenceBundle;
  const keys = typeof options.keys === 'string' ? ((await readJson(options.keys, 'keys')) as JSONWebKeySet) : undefined;
  const report = await verifyEvidenceBundle(bundle, keys);
  print(
    { ...report },
    [report.ok ? 'Evidence bundle VERIFIED' : 'Evidence bundle FAILED', ...report.checks.map((c) => `  ok  ${c}`), ...report.errors.map((e) => `  BAD ${e}`)].join('\n'),
  );
  return report.ok ? 0 : 1;
}
