import { mkdir, writeFile } from 'node:fs/promises';
import type { Machine } from './machine.js';
import type { BenchOptions, Engine } from './options.js';

// The run's findings: one table row per measurement with its baseline and target, and the raw
// numbers as JSON in bench/results/<timestamp>-<engine>.json.

export type Verdict = 'pass' | 'miss';

export interface Row {
  scenario: string;
  /** The layout, log size or level the row is about. */
  setting: string;
  result: string;
  baseline?: string;
  target?: string;
  verdict?: Verdict;
}

/** `actual` against a bound: at least (`>=`) or below (`<`). */
export function verdict(actual: number, op: '>=' | '<', bound: number): Verdict {
  return (op === '>=' ? actual >= bound : actual < bound) ? 'pass' : 'miss';
}

/** 1234.5 → "1,235"; small numbers keep a decimal or two. */
export function fmt(value: number, unit = ''): string {
  if (!Number.isFinite(value)) return 'n/a';
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits })}${unit}`;
}

export class Report {
  readonly rows: Row[] = [];
  readonly warnings: string[] = [];
  /** Evidence printed under the table: where the time went. */
  readonly notes: string[] = [];
  /** Raw results by scenario (and layout), as written to the JSON file. */
  readonly results: Record<string, unknown> = {};
  readonly startedAt = new Date();

  constructor(
    readonly engine: Engine,
    readonly options: BenchOptions,
    readonly machine: Machine,
  ) {}

  add(row: Row): void {
    this.rows.push(row);
  }

  record(key: string, value: unknown): void {
    this.results[key] = value;
  }

  note(text: string): void {
    this.notes.push(text);
  }

  warn(message: string): void {
    if (this.warnings.includes(message)) return;
    this.warnings.push(message);
    console.warn(`  ! ${message}`);
  }

  print(): void {
    const m = this.machine;
    console.log(
      `\n${this.engine} — ${m.database}; ${m.cores} cores ${m.cpu}, ${m.memory_gib} GiB, Node ${m.node}, ${m.git_commit.slice(0, 10)}${m.git_dirty ? ' (uncommitted changes)' : ''}${this.options.quick ? '; QUICK RUN (short, small, noisy)' : ''}`,
    );
    const columns: Array<[keyof Row, string]> = [
      ['scenario', 'scenario'],
      ['setting', 'setting'],
      ['result', 'result'],
      ['baseline', 'baseline'],
      ['target', 'target'],
      ['verdict', ''],
    ];
    const widths = columns.map(([key, title]) =>
      Math.max(title.length, ...this.rows.map((r) => String(r[key] ?? '').length)),
    );
    const line = (cells: string[]) =>
      cells
        .map((c, i) => c.padEnd(widths[i]!))
        .join(' | ')
        .trimEnd();
    console.log(line(columns.map(([, title]) => title)));
    console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
    for (const row of this.rows) console.log(line(columns.map(([key]) => String(row[key] ?? ''))));
    for (const note of this.notes) console.log(`  ${note}`);
    for (const warning of this.warnings) console.log(`! ${warning}`);
  }

  /** Writes bench/results/<timestamp>-<engine>.json; returns its path. */
  async write(): Promise<string> {
    await mkdir('bench/results', { recursive: true });
    const file = `bench/results/${this.startedAt.toISOString().replace(/[:.]/g, '-')}-${this.engine}.json`;
    const { options } = this;
    const json = {
      engine: this.engine,
      started_at: this.startedAt.toISOString(),
      quick: options.quick,
      options: { ...options, scenarios: [...options.scenarios] },
      machine: this.machine,
      table: this.rows,
      notes: this.notes,
      warnings: this.warnings,
      results: this.results,
    };
    await writeFile(file, `${JSON.stringify(json, null, 2)}\n`);
    return file;
  }
}
