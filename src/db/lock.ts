import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';

/** Another live process (a running platform) holds the embedded database. */
export class DataDirInUse extends Error {
  constructor(
    readonly dataDir: string,
    readonly owner: number,
    options: ErrorOptions,
  ) {
    super(
      `The embedded database in ${dataDir} is in use by process ${owner}. Stop it first, or use PostgreSQL (DATABASE_URL) to run several processes.`,
      options,
    );
    this.name = 'DataDirInUse';
  }
}

/**
 * PGlite is a single-process engine: two processes opening one data directory would corrupt it.
 * The first process writes its pid to `<dataDir>/pglite.lock`; another process refuses to open
 * the directory while that pid is alive (a lock left by a crashed process is taken over).
 */
export function lockDataDir(dataDir: string): () => void {
  const path = resolve(dataDir, 'pglite.lock');
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(path, 'utf8'));
      if (owner && owner !== process.pid && isAlive(owner)) {
        throw new DataDirInUse(dataDir, owner, { cause: err });
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`Could not lock ${path}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
