// The console's chart of provider calls and their cost per day: an SVG drawn on the server (the
// template writes the elements), so the page needs no script.

export interface DayRow {
  day: string;
  calls: number;
  unavailable: number;
  cost_yuan: number;
}

export interface CostChart {
  width: number;
  height: number;
  /** One bar per day: all calls, with the unanswered part on top. */
  bars: Array<{
    day: string;
    x: number;
    width: number;
    callsY: number;
    callsHeight: number;
    failedHeight: number;
    calls: number;
    unavailable: number;
    cost: string;
  }>;
  /** The cost line's points (`x,y x,y …`). */
  costLine: string;
  maxCalls: number;
  maxCost: string;
  /** Labels under the first, middle and last day. */
  labels: Array<{ x: number; text: string }>;
}

const WIDTH = 640;
const HEIGHT = 200;
const PAD = 24;

/** Days from `since` to today (UTC), each with its totals over every provider and method. */
export function costChart(rows: Array<DayRow & { provider: string; method: string }>, since: string): CostChart {
  const days: string[] = [];
  for (let t = Date.parse(since); t <= Date.now(); t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10));
  const byDay = new Map(days.map((day) => [day, { day, calls: 0, unavailable: 0, cost_yuan: 0 }]));
  for (const row of rows) {
    const total = byDay.get(row.day);
    if (!total) continue;
    total.calls += row.calls;
    total.unavailable += row.unavailable;
    total.cost_yuan += row.cost_yuan;
  }
  const totals = [...byDay.values()];
  const maxCalls = Math.max(1, ...totals.map((d) => d.calls));
  const maxCost = Math.max(0.01, ...totals.map((d) => d.cost_yuan));
  const plotHeight = HEIGHT - 2 * PAD;
  const step = (WIDTH - 2 * PAD) / Math.max(1, totals.length);
  const bars = totals.map((d, i) => {
    const callsHeight = (d.calls / maxCalls) * plotHeight;
    return {
      day: d.day,
      x: round(PAD + i * step + step * 0.1),
      width: round(step * 0.8),
      callsY: round(HEIGHT - PAD - callsHeight),
      callsHeight: round(callsHeight),
      failedHeight: round((d.unavailable / maxCalls) * plotHeight),
      calls: d.calls,
      unavailable: d.unavailable,
      cost: d.cost_yuan.toFixed(2),
    };
  });
  const costLine = totals
    .map((d, i) => `${round(PAD + i * step + step / 2)},${round(HEIGHT - PAD - (d.cost_yuan / maxCost) * plotHeight)}`)
    .join(' ');
  const labelAt = (i: number) => ({ x: round(PAD + i * step + step / 2), text: totals[i]!.day.slice(5) });
  const labels = totals.length ? [...new Set([0, Math.floor(totals.length / 2), totals.length - 1])].map(labelAt) : [];
  return { width: WIDTH, height: HEIGHT, bars, costLine, maxCalls, maxCost: maxCost.toFixed(2), labels };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
