// The server's own account of its memory, from its Prometheus endpoint (prom-client's default
// metrics), when the tree has one and it is open (development and test): what the resident set
// is made of. In a cluster the primary sums its workers.

export interface HeapReport {
  heap_used_mib: number;
  heap_total_mib: number;
  external_mib: number;
}

const MIB = 2 ** 20;

export async function heapReport(base: string): Promise<HeapReport | undefined> {
  try {
    const response = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) return undefined;
    const text = await response.text();
    const value = (name: string) =>
      Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? NaN) / MIB;
    const report = {
      heap_used_mib: value('nodejs_heap_size_used_bytes'),
      heap_total_mib: value('nodejs_heap_size_total_bytes'),
      external_mib: value('nodejs_external_memory_bytes'),
    };
    return Object.values(report).every(Number.isFinite)
      ? (Object.fromEntries(Object.entries(report).map(([k, v]) => [k, Math.round(v)])) as unknown as HeapReport)
      : undefined;
  } catch {
    return undefined;
  }
}
