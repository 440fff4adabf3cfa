import type { Db } from '../db/index.js';
import { providerCallGroups, type ProviderCallGroup } from './store.js';

/** Calls to verification providers by provider, method and outcome, and their cost in fen. */
export type ProviderCallTotal = Omit<ProviderCallGroup, 'max_id'>;

/**
 * Totals of `provider_calls` by provider, method and outcome, without grouping the whole table at
 * every scrape (at a million rows that takes ~0.4 s). The table is append-only, so rows up to a
 * watermark are summed once and kept; only rows above it are read at each scrape, through the
 * primary key. Ids come from a sequence in insert order, not commit order: a row may commit after
 * a higher id was read. So the watermark only moves to the largest id seen at least `settleMs`
 * earlier, by when any insert that had taken a lower id has committed (today they are single
 * autocommitted statements: VerificationService.callProvider).
 */
export class ProviderCallTotals {
  private readonly settled = new Map<string, ProviderCallTotal>();
  private watermark = 0;
  private readonly seen: Array<{ at: number; maxId: number }> = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly settleMs = 10_000,
  ) {}

  /** Current totals. Reads run one at a time; one its caller stopped waiting for still settles. */
  read(): Promise<ProviderCallTotal[]> {
    const run = this.queue.then(() => this.readNow());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async readNow(): Promise<ProviderCallTotal[]> {
    const now = Date.now();
    const settleTo = this.seen.filter((s) => s.at <= now - this.settleMs).at(-1)?.maxId ?? this.watermark;
    if (settleTo > this.watermark) {
      for (const row of await providerCallGroups(this.db, this.watermark, settleTo)) add(this.settled, row);
      this.watermark = settleTo;
    }
    while (this.seen.length > 1 && this.seen[1]!.at <= now - this.settleMs) this.seen.shift();
    const recent = await providerCallGroups(this.db, this.watermark);
    this.seen.push({ at: now, maxId: Math.max(this.watermark, ...recent.map((r) => r.max_id)) });
    const totals = new Map([...this.settled].map(([key, row]) => [key, { ...row }]));
    for (const row of recent) add(totals, row);
    return [...totals.values()];
  }
}

function add(totals: Map<string, ProviderCallTotal>, row: ProviderCallTotal): void {
  const key = `${row.provider}\u0000${row.method}\u0000${row.outcome}`;
  const total = totals.get(key);
  if (total) {
    total.calls += row.calls;
    total.cost_fen += row.cost_fen;
  } else {
    totals.set(key, {
      provider: row.provider,
      method: row.method,
      outcome: row.outcome,
      calls: row.calls,
      cost_fen: row.cost_fen,
    });
  }
}
