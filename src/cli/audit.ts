import { readFile } from 'node:fs/promises';
import type { JSONWebKeySet } from 'jose';
import type { LogCheckReport } from '../audit/check.js';
import { verifyEvidenceBundle, type EvidenceBundle } from '../audit/verify.js';
import { InvalidInput } from '../errors.js';
import { CLI_OPERATOR, type CliContext } from './context.js';
import { listOption, type Options } from './options.js';

/**
 * `audit verify [--heads FILE]... [--keys FILE|URL]`: recomputes the whole tree and checks every
 * signed head stored in the database, every head kept in `audit.headsDir`, and each notary's
 * copies given with --heads (read here, sent along with `--url`). Exit 1 if anything is wrong,
 * naming the first kept head the log contradicts.
 */
export async function auditVerify(ctx: CliContext, options: Options): Promise<number> {
  const heads = [];
  for (const file of listOption(options, 'heads')) {
    try {
      heads.push({ source: file, text: await readFile(file, 'utf8') });
    } catch (err) {
      throw new InvalidInput([
        { field: 'heads', code: 'unreadable', message: `cannot read ${file}: ${(err as Error).message}` },
      ]);
    }
  }
  const keys = typeof options.keys === 'string' ? await readJson(options.keys, 'keys') : undefined;
  const report = (await (
    await ctx.auditVerifier()
  ).verifyAudit({ heads, ...(keys ? { keys } : {}) }, CLI_OPERATOR)) as unknown as LogCheckReport;
  const contradicted = report.first_contradicted_head;
  ctx.print(
    { ...report },
    report.ok
      ? [
          `Audit trail intact: ${report.leaves} leaves, ${report.nodes_checked} stored nodes, ${report.heads} signed tree heads in the database and ${report.kept_heads} kept outside it check out.${report.queued ? ` ${report.queued} events are queued for the tree.` : ''}`,
          ...(report.kept_heads === 0
            ? [
                '  WARNING: no tree head kept outside the database was checked (audit.headsDir, --heads): a rewrite of the whole log would check out too.',
              ]
            : []),
        ].join('\n')
      : [
          `Audit trail DAMAGED${report.first_bad_leaf ? `: first bad leaf ${report.first_bad_leaf.leaf_index} (${report.first_bad_leaf.problem})` : ''}`,
          ...(contradicted
            ? [
                `  The log contradicts the kept tree head of size ${contradicted.tree_size} (${contradicted.source}): ${contradicted.problem}`,
              ]
            : []),
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
    throw new InvalidInput([
      { field, code: 'unreadable', message: `cannot read JSON from ${source}: ${(err as Error).message}` },
    ]);
  }
}

/**
 * `audit verify-bundle FILE [--keys FILE|URL]`: checks an evidence bundle offline, with no
 * database. `--keys` is the platform's published tree-head JWKS (GET /api/notary/keys), which a
 * notary keeps; without it the bundle's own copy of the keys is used, with a warning.
 */
export async function auditVerifyBundle(
  print: CliContext['print'],
  file: string | undefined,
  options: Options,
): Promise<number> {
  if (!file)
    throw new InvalidInput([
      { field: 'file', code: 'required', message: 'name the bundle file: audit verify-bundle FILE' },
    ]);
  const bundle = (await readJson(file, 'file')) as EvidenceBundle;
  const keys = typeof options.keys === 'string' ? ((await readJson(options.keys, 'keys')) as JSONWebKeySet) : undefined;
  const report = await verifyEvidenceBundle(bundle, keys);
  print(
    { ...report },
    [
      report.ok ? 'Evidence bundle VERIFIED' : 'Evidence bundle FAILED',
      ...report.checks.map((c) => `  ok  ${c}`),
      ...report.errors.map((e) => `  BAD ${e}`),
    ].join('\n'),
  );
  return report.ok ? 0 : 1;
}
