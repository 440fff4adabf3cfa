import { readFileSync } from 'node:fs';

// Reading V8 CPU profiles (`node --cpu-prof`, the Chrome DevTools .cpuprofile format): self time
// per function and per package, so a run's hot spots can be reported as text.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface HotSpot {
  name: string;
  self_ms: number;
  self_percent: number;
}

export interface ProfileSummary {
  file: string;
  total_ms: number;
  idle_percent: number;
  /** By function (name and file:line), busiest first. */
  functions: HotSpot[];
  /** By package (node_modules/<name>), our source (src/…), or node internals. */
  packages: HotSpot[];
  /** Our functions (src/…) by inclusive time: what they and everything they call cost. */
  ours: HotSpot[];
}

/** Where a frame's code lives: a package, a file of ours, node's internals, or V8's (GC, idle). */
function ownerOf(url: string, name: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  const ours = /\/(src|bench|migrations)\/(.+)$/.exec(url);
  if (ours) return `${ours[1]}/${ours[2]}`;
  if (url.startsWith('node:')) return 'node internals';
  return name.startsWith('(') ? name : '(native/other)';
}

/** A time span on the profile's clock: CLOCK_MONOTONIC in µs, the clock of `monotonicMicros()`. */
export interface Window {
  fromUs: number;
  toUs: number;
}

/** Now, on the clock V8 stamps CPU profiles with (both are CLOCK_MONOTONIC on Linux). */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** The profile's last `seconds`. */
export function lastSecondsOf(file: string, seconds: number): Window {
  const { endTime } = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  return { fromUs: endTime - seconds * 1e6, toUs: endTime };
}

/**
 * Self time per function and per owner in one profile; with `window`, only its samples in that
 * span (a server's profile starts with its boot and covers every scenario run against it).
 */
export function summarizeProfile(file: string, top = 15, window?: Window): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const from = Math.max(window?.fromUs ?? profile.startTime, profile.startTime);
  const to = Math.min(window?.toUs ?? profile.endTime, profile.endTime);
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at >= from && at <= to) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  const total = Math.max(1, to - from);
  const functions = new Map<string, number>();
  const packages = new Map<string, number>();
  let idle = 0;
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id)!;
    if (callFrame.functionName === '(idle)') idle += us;
    const where = callFrame.url
      ? `${callFrame.url.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, '$1/')}:${callFrame.lineNumber + 1}`
      : '';
    const key = `${callFrame.functionName || '(anonymous)'} ${where}`.trim();
    functions.set(key, (functions.get(key) ?? 0) + us);
    const owner = ownerOf(callFrame.url, callFrame.functionName);
    packages.set(owner, (packages.get(owner) ?? 0) + us);
  }
  // Inclusive: each sample counts once for every distinct function of ours on its stack.
  const ours = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const seen = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = parents.get(node)) {
      const { callFrame } = byId.get(node)!;
      if (!/\/src\//.test(callFrame.url)) continue;
      seen.add(
        `${callFrame.functionName || '(anonymous)'} ${callFrame.url.replace(/^.*\/src\//, 'src/')}:${callFrame.lineNumber + 1}`,
      );
    }
    for (const key of seen) ours.set(key, (ours.get(key) ?? 0) + us);
  }
  const ranked = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({
        name,
        self_ms: Math.round(us / 1000),
        self_percent: Math.round((us / total) * 1000) / 10,
      }));
  return {
    file,
    total_ms: Math.round(total / 1000),
    idle_percent: Math.round((idle / total) * 1000) / 10,
    functions: ranked(functions),
    packages: ranked(packages),
    ours: ranked(ours),
  };
}
