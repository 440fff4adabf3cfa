import { appendFile, mkdir, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SignedTreeHead } from './signed-tree-head.js';

/**
 * Signed tree heads kept outside the database, appended as they are made. A database superuser
 * can disable the log's triggers, rewrite a leaf, recompute every node and delete the heads in
 * `audit_tree_heads`; the tree then checks out on its own. A head kept where the database's roles
 * cannot write (a directory of the application host, copied on to write-once storage) still
 * commits to the old root, so the rewrite contradicts it (RFC 9162 §8.2: a log's heads are only
 * as good as the copies others hold).
 *
 * One JSON line per head (the notary API's SignedTreeHead), in one file per UTC day
 * (`tree-heads-YYYY-MM-DD.jsonl`), so a closed day can be shipped and the directory made
 * append-only (`chattr +a`). Every append is fsynced before the head is served.
 */
export class KeptTreeHeads {
  constructor(readonly dir: string) {}

  /** Appends a head (one write, O_APPEND, fsynced; the directory too when the file is new). */
  async append(head: SignedTreeHead): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const file = join(this.dir, `tree-heads-${new Date(head.timestamp).toISOString().slice(0, 10)}.jsonl`);
    const handle = await open(file, 'a');
    try {
      await appendFile(handle, `${JSON.stringify(head)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await syncDirectory(this.dir);
  }

  /** The largest head kept (the newest day's file is enough: sizes only grow with time). */
  async latest(): Promise<KeptHead | undefined> {
    const files = await this.files();
    for (const file of files.reverse()) {
      const { heads } = parseKeptHeads(await readFile(join(this.dir, file), 'utf8'), join(this.dir, file));
      if (heads.length) return heads.reduce((a, b) => (b.head.tree_size > a.head.tree_size ? b : a));
    }
    return undefined;
  }

  /** Every head kept, with the problems of lines that are no head. */
  async all(): Promise<ParsedHeads> {
    const out: ParsedHeads = { heads: [], problems: [] };
    for (const file of await this.files()) {
      const parsed = parseKeptHeads(await readFile(join(this.dir, file), 'utf8'), join(this.dir, file));
      out.heads.push(...parsed.heads);
      out.problems.push(...parsed.problems);
    }
    return out;
  }

  private async files(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((f) => /^tree-heads-\d{4}-\d{2}-\d{2}\.jsonl$/.test(f)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
}

/** A head kept somewhere, and where: `file:line`, so a report can name it. */
export interface KeptHead {
  head: SignedTreeHead;
  source: string;
}

export interface ParsedHeads {
  heads: KeptHead[];
  /** Lines or documents that are not a signed tree head, named by source. */
  problems: string[];
}

function isHeadShaped(value: unknown): value is SignedTreeHead {
  const v = value as SignedTreeHead;
  return (
    !!v &&
    typeof v === 'object' &&
    Number.isSafeInteger(v.tree_size) &&
    typeof v.root_hash === 'string' &&
    Number.isSafeInteger(v.timestamp) &&
    typeof v.signature === 'string'
  );
}

/**
 * Reads heads from what an operator or a notary kept: JSON lines of heads (the kept-heads files),
 * or one JSON document that is a head (GET /api/notary/tree-head), an array of heads, or an
 * evidence bundle (its `tree_head`).
 */
export function parseKeptHeads(text: string, source: string): ParsedHeads {
  const out: ParsedHeads = { heads: [], problems: [] };
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    whole = undefined;
  }
  if (whole !== undefined) {
    const items = Array.isArray(whole)
      ? whole
      : [isHeadShaped(whole) ? whole : (whole as { tree_head?: unknown }).tree_head];
    items.forEach((item, i) => {
      const at = Array.isArray(whole) ? `${source}[${i}]` : source;
      if (isHeadShaped(item)) out.heads.push({ head: item, source: at });
      else out.problems.push(`${at}: not a signed tree head`);
    });
    return out;
  }
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let item: unknown;
    try {
      item = JSON.parse(line);
    } catch {
      item = undefined;
    }
    if (isHeadShaped(item)) out.heads.push({ head: item, source: `${source}:${i + 1}` });
    else out.problems.push(`${source}:${i + 1}: not a signed tree head`);
  });
  return out;
}

/** Makes a new directory entry durable (POSIX: fsync the directory after creating a file in it). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    // Some file systems cannot fsync a directory; the file itself is synced.
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL' && (err as NodeJS.ErrnoException).code !== 'EISDIR') throw err;
  } finally {
    await handle.close();
  }
}
