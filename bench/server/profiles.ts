import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { summarizeProfile, type Window } from '../lib/cpu-profile.js';
import type { Report } from '../lib/report.js';
import type { RunningServer } from './platform.js';

// With --profile: each serving process's CPU profile (written when it stopped), cut to the span
// of each load, as self time by package and by function: the evidence for a missed target.

const TOP = 12;

export function reportProfiles(
  report: Report,
  server: RunningServer,
  dir: string,
  windows: Record<string, Window>,
): void {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  for (const pid of server.pids) {
    const file = files.find((f) => f.includes(`.${pid}.`));
    if (!file) {
      report.warn(`no CPU profile of process ${pid} in ${dir}`);
      continue;
    }
    for (const [load, window] of Object.entries(windows)) {
      const summary = summarizeProfile(join(dir, file), TOP, window);
      report.record(`profile/${server.layout.name}/${load}/${pid}`, summary);
      const busy = (100 - summary.idle_percent).toFixed(0);
      console.log(
        `    profile ${load}, pid ${pid} (${busy}% busy): ${summary.packages
          .filter((p) => p.name !== '(idle)')
          .slice(0, 6)
          .map((p) => `${p.name} ${p.self_percent}%`)
          .join(', ')}`,
      );
      for (const f of summary.functions.filter((f) => f.name !== '(idle)').slice(0, 6))
        console.log(`      ${String(f.self_percent).padStart(5)}% self ${f.name}`);
      for (const f of summary.ours.slice(0, 8))
        console.log(`      ${String(f.self_percent).padStart(5)}% incl ${f.name}`);
    }
  }
}
