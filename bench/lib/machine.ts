import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { engineVersion } from './database.js';
import type { Engine } from './options.js';

export interface Machine {
  cores: number;
  cpu: string;
  memory_gib: number;
  os: string;
  node: string;
  database: string;
  git_commit: string;
  /** Uncommitted changes in the tree when the run started: the numbers are of that tree. */
  git_dirty: boolean;
  load_average_at_start: number[];
}

/** What the numbers were measured on. */
export async function describeMachine(engine: Engine): Promise<Machine> {
  return {
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    database: await engineVersion(engine),
    git_commit: git(['rev-parse', 'HEAD']),
    git_dirty: git(['status', '--porcelain']) !== '',
    load_average_at_start: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

// Read-only git commands: the bench never changes the repository.
function git(args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}
