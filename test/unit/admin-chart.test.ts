import { costChart } from '../../src/admin/chart.js';

describe('the console chart', () => {
  const today = new Date().toISOString().slice(0, 10);
  const since = new Date(Date.now() - 2 * 86_400_000);
  since.setUTCHours(0, 0, 0, 0);

  it('draws one bar a day, empty days included, with the unanswered part on top of the tallest', () => {
    const chart = costChart(
      [
        { day: today, provider: 'sandbox', method: 'document', calls: 3, unavailable: 1, cost_yuan: 1.5 },
        { day: today, provider: 'sandbox', method: 'person_match', calls: 1, unavailable: 0, cost_yuan: 1.5 },
      ],
      since.toISOString(),
    );
    expect(chart.bars.map((b) => b.calls)).toEqual([0, 0, 4]);
    const last = chart.bars.at(-1)!;
    expect(last).toMatchObject({ day: today, unavailable: 1, cost: '3.00' });
    expect(last.callsY + last.callsHeight).toBe(chart.height - 24);
    expect(last.failedHeight).toBeCloseTo(last.callsHeight / 4, 0);
    expect(chart.maxCalls).toBe(4);
    expect(chart.costLine.split(' ')).toHaveLength(3);
    expect(chart.labels.map((l) => l.text)).toContain(today.slice(5));
  });

  it('ignores rows outside the days it draws', () => {
    const chart = costChart(
      [{ day: '2001-01-01', provider: 'sandbox', method: 'document', calls: 9, unavailable: 0, cost_yuan: 4.5 }],
      since.toISOString(),
    );
    expect(chart.bars.every((b) => b.calls === 0)).toBe(true);
  });
});
