import { fmt, verdict, type Report } from '../lib/report.js';
import { TARGETS } from '../lib/targets.js';
import type { Usage } from '../lib/proc.js';
import type { RunningServer } from '../server/platform.js';

// Scenario 7: resident set of one server process (VmRSS), idle after start and the largest it
// reached under each load of the other scenarios (sampled every 200 ms while they ran).

export function reportMemory(report: Report, server: RunningServer, usage: Record<string, Usage>): void {
  const setting = server.layout.name;
  const rssUnderLoad = Object.fromEntries(Object.entries(usage).map(([load, u]) => [load, u.maxRssMib]));
  const heapAfter = (load: string) => {
    const heap = usage[load]?.heapAfter;
    return heap ? ` (V8 heap ${heap.heap_used_mib} used of ${heap.heap_total_mib}, external ${heap.external_mib})` : '';
  };
  report.record(`memory/${setting}`, {
    idle_rss_mib: server.idleRssMib,
    idle_heap: server.idleHeap,
    max_rss_mib_by_load: rssUnderLoad,
    usage_by_load: usage,
  });
  const heap = server.idleHeap;
  // A cluster's /metrics sums its workers: only a single process's account explains its RSS.
  const made =
    heap && server.layout.processes === 1
      ? `: V8 heap ${heap.heap_used_mib} used of ${heap.heap_total_mib} MiB, external ${heap.external_mib} MiB`
      : '';
  report.add({
    scenario: 'memory, idle',
    setting,
    result: `${fmt(server.idleRssMib)} MiB RSS${made}`,
    target: `< ${TARGETS.idleRssMib} MiB`,
    verdict: verdict(server.idleRssMib, '<', TARGETS.idleRssMib),
  });
  const loads = Object.entries(rssUnderLoad);
  if (loads.length === 0) return;
  const [worst, max] = loads.reduce((a, b) => (b[1] > a[1] ? b : a));
  report.add({
    scenario: 'memory, under load',
    setting,
    result: `max ${fmt(max)} MiB (${worst}); ${loads.map(([name, mib]) => `${name} ${fmt(mib)}${heapAfter(name)}`).join(', ')}`,
    target: `< ${TARGETS.loadRssMib} MiB`,
    verdict: verdict(max, '<', TARGETS.loadRssMib),
  });
}
