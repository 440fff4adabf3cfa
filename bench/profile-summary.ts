import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { lastSecondsOf, summarizeProfile } from './lib/cpu-profile.js';

// Prints the hot spots of CPU profiles written by `npm run bench -- --profile` (the run itself
// reports each scenario's share of them; this is for a closer look).
// Usage: tsx bench/profile-summary.ts [file.cpuprofile | directory …] [--top N] [--last SECONDS]
// (--last: only the profile's last seconds, i.e. the load before the server stopped, not its boot)

const args = process.argv.slice(2);
const flag = (name: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args.splice(at, 2)[1]) : undefined;
};
const top = flag('--top') ?? 15;
const last = flag('--last');
const files = (args.length ? args : ['bench/results/profiles']).flatMap((path) =>
  statSync(path).isDirectory()
    ? readdirSync(path, { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(path, f))
    : [path],
);
for (const file of files) {
  const summary = summarizeProfile(file, top, last === undefined ? undefined : lastSecondsOf(file, last));
  console.log(`\n${file}: ${summary.total_ms} ms, ${summary.idle_percent}% idle`);
  console.log('  self time by package:');
  for (const p of summary.packages) console.log(`    ${String(p.self_percent).padStart(5)}%  ${p.name}`);
  console.log('  self time by function:');
  for (const f of summary.functions) console.log(`    ${String(f.self_percent).padStart(5)}%  ${f.name}`);
  console.log('  our functions by inclusive time:');
  for (const f of summary.ours) console.log(`    ${String(f.self_percent).padStart(5)}%  ${f.name}`);
}
