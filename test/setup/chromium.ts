// Jest loads a globalSetup module itself, outside ts-jest's module mapping (on Node 24 as
// native TypeScript), so this file imports nothing of ours.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** What a test run does about the browser tests, decided once before any test file runs. */
export type ChromiumPlan = { action: 'use'; path: string } | { action: 'install' } | { action: 'skip'; reason: string };

/** The facts about this machine the plan depends on. */
export interface Machine {
  /** CHROMIUM_PATH, when set: that binary and no other. */
  chromiumPath?: string;
  /** The path of a command on PATH, if any. */
  which(command: string): string | undefined;
  isExecutable(path: string): boolean;
  isRoot: boolean;
}

/**
 * Chromium from CHROMIUM_PATH or `chromium` on PATH (Debian's /usr/bin/chromium); if there is
 * none, install Debian's package where we may (root with apt-get), else skip with the reason.
 */
export function planChromium(machine: Machine): ChromiumPlan {
  if (machine.chromiumPath) {
    return machine.isExecutable(machine.chromiumPath)
      ? { action: 'use', path: machine.chromiumPath }
      : { action: 'skip', reason: `CHROMIUM_PATH=${machine.chromiumPath} is not an executable file` };
  }
  const found = machine.which('chromium');
  if (found) return { action: 'use', path: found };
  if (!machine.isRoot) return { action: 'skip', reason: 'Chromium is not installed, and installing it needs root' };
  if (!machine.which('apt-get'))
    return { action: 'skip', reason: 'Chromium is not installed, and this machine has no apt-get to install it' };
  return { action: 'install' };
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** This process's machine. */
export function thisMachine(env: NodeJS.ProcessEnv = process.env): Machine {
  return {
    chromiumPath: env.CHROMIUM_PATH || undefined,
    which: (command) =>
      (env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, command))
        .find(isExecutable),
    isExecutable,
    isRoot: process.getuid?.() === 0,
  };
}

/**
 * Installs Debian packages with apt-get, non-interactively, waiting for a dpkg lock another
 * install holds. On failure, prints apt-get's last words and returns the failure in one line.
 */
export function aptInstall(packages: string[]): string | undefined {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', ...packages]]) {
    const run = spawnSync('apt-get', ['-q', '-o', 'DPkg::Lock::Timeout=300', ...args], {
      env,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (run.status !== 0) {
      console.error(`${run.stdout ?? ''}${run.stderr ?? ''}`.trim().split('\n').slice(-5).join('\n'));
      return `apt-get ${args.join(' ')} failed (${run.error?.message ?? `exit ${run.status}`})`;
    }
  }
  return undefined;
}

const PACKAGES = ['chromium', 'fonts-noto-cjk'];

/**
 * Jest globalSetup: finds Chromium for the browser tests, or installs Debian's package where it
 * can, before any test file runs. Its answer reaches every worker through the environment:
 * CHROMIUM_PATH when there is a browser, TEST_BROWSER_MISSING (the reason) when the browser tests
 * are skipped. Under CI (jest's `ci`, on when CI is set) a missing browser fails the run instead.
 */
export default function ensureChromium(globalConfig: { ci: boolean }): void {
  let plan = planChromium(thisMachine());
  if (plan.action === 'install') {
    console.log(
      `\nChromium (for the browser tests) is not installed: installing Debian's ${PACKAGES.join(' and ')} with apt-get, once; this takes a minute or two.`,
    );
    const failure = aptInstall(PACKAGES);
    const again = planChromium(thisMachine());
    if (failure) plan = { action: 'skip', reason: failure };
    else if (again.action === 'install')
      plan = { action: 'skip', reason: 'apt-get installed chromium, yet there is no chromium on PATH' };
    else plan = again;
    if (plan.action === 'use') console.log(`Installed: ${plan.path}`);
  }
  if (plan.action === 'use') {
    process.env.CHROMIUM_PATH = plan.path;
    delete process.env.TEST_BROWSER_MISSING;
    return;
  }
  if (globalConfig.ci) {
    throw new Error(
      `The browser tests cannot run: ${plan.reason}. Under CI they must; install Chromium (as root: apt-get install ${PACKAGES.join(' ')}) or set CHROMIUM_PATH.`,
    );
  }
  process.env.TEST_BROWSER_MISSING = plan.reason;
  console.log(
    `\nBrowser tests skipped: ${plan.reason}. To run them, install Chromium (as root: apt-get install ${PACKAGES.join(' ')}) or set CHROMIUM_PATH to its binary.`,
  );
}
