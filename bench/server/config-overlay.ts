import { mkdtemp, readdir, readFile, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// The server reads config/<NODE_ENV>.json, views/, public/ and docs/ from its working directory
// (src/config/load.ts, src/http/views.ts, src/app.ts, src/notary/routes/openapi.ts). The bench
// starts it in a directory that links everything to the repository except config/test.json, which
// adds the bench's settings: the way an operator configures a deployment, with no change to the tree.

/** Settings (in config/*.json's shape) that exist in the tree being measured. */
export type Settings = Record<string, unknown>;

/**
 * Limits raised so the load generators, all on 127.0.0.1 and one client each, measure the work
 * of a request rather than a 429. Kept only where the tree has the option (the schema is strict).
 */
const GENEROUS_LIMITS: Record<string, number> = {
  'rateLimits.token.perClient.max': 1_000_000,
  'rateLimits.token.perIp.max': 1_000_000,
  'rateLimits.signIn.perIp.maxFailures': 1_000_000,
  'rateLimits.signIn.perLogin.maxFailures': 1_000_000,
  'rateLimits.registration.perIp.max': 1_000_000,
  'rateLimits.verification.perAccount.max': 1_000_000,
  'verification.checkRatePerMinute': 100_000,
};

const REPOSITORY = resolve('.');

async function defaults(): Promise<Settings> {
  return JSON.parse(await readFile(join(REPOSITORY, 'config', 'default.json'), 'utf8')) as Settings;
}

/** Whether config/default.json (which mirrors the schema) has the option at `path`. */
export async function hasOption(path: string): Promise<boolean> {
  let node: unknown = await defaults();
  for (const key of path.split('.')) {
    if (!node || typeof node !== 'object' || !(key in node)) return false;
    node = (node as Settings)[key];
  }
  return true;
}

/** `settings` with `value` set at the dotted `path`. */
export function withSetting(settings: Settings, path: string, value: unknown): Settings {
  const [key, ...rest] = path.split('.');
  const inner = (settings[key!] as Settings | undefined) ?? {};
  return { ...settings, [key!]: rest.length ? withSetting(inner, rest.join('.'), value) : value };
}

/** The generous limits of the options the tree has. */
export async function generousLimits(): Promise<Settings> {
  let settings: Settings = {};
  for (const [path, value] of Object.entries(GENEROUS_LIMITS)) {
    if (await hasOption(path)) settings = withSetting(settings, path, value);
  }
  return settings;
}

/** A working directory for the server: the repository, with config/test.json plus `settings`. */
export async function serverRoot(settings: Settings): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'rn-bench-root-'));
  for (const entry of await readdir(REPOSITORY)) {
    if (entry !== 'config') await symlink(join(REPOSITORY, entry), join(dir, entry));
  }
  await mkdir(join(dir, 'config'));
  for (const file of await readdir(join(REPOSITORY, 'config'))) {
    if (file !== 'test.json') await symlink(join(REPOSITORY, 'config', file), join(dir, 'config', file));
  }
  const test = JSON.parse(await readFile(join(REPOSITORY, 'config', 'test.json'), 'utf8')) as Settings;
  await writeFile(join(dir, 'config', 'test.json'), JSON.stringify(merge(test, settings), null, 2));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

function merge(base: Settings, over: Settings): Settings {
  const out = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] =
      value && typeof value === 'object' && prev && typeof prev === 'object'
        ? merge(prev as Settings, value as Settings)
        : value;
  }
  return out;
}
