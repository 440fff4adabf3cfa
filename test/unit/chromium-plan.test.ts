import { planChromium, type Machine } from '../setup/chromium.js';

// How the test run finds Chromium for the browser tests (test/setup/chromium.ts).
const machine = (facts: Partial<Machine> & { onPath?: string[] } = {}): Machine => ({
  which: (command) => (facts.onPath ?? []).find((path) => path.endsWith(`/${command}`)),
  isExecutable: () => false,
  isRoot: false,
  ...facts,
});

describe('finding Chromium for the browser tests', () => {
  it('uses CHROMIUM_PATH when it names an executable', () => {
    expect(
      planChromium(
        machine({
          chromiumPath: '/opt/chrome/chrome',
          isExecutable: (p) => p === '/opt/chrome/chrome',
          onPath: ['/usr/bin/chromium'],
        }),
      ),
    ).toEqual({ action: 'use', path: '/opt/chrome/chrome' });
  });

  it('skips, naming it, when CHROMIUM_PATH is not an executable, rather than installing another browser', () => {
    expect(planChromium(machine({ chromiumPath: '/nonexistent', isRoot: true, onPath: ['/usr/bin/apt-get'] }))).toEqual(
      { action: 'skip', reason: 'CHROMIUM_PATH=/nonexistent is not an executable file' },
    );
  });

  it("uses Debian's chromium on PATH", () => {
    expect(planChromium(machine({ onPath: ['/usr/bin/chromium'] }))).toEqual({
      action: 'use',
      path: '/usr/bin/chromium',
    });
  });

  it('installs it when missing, as root with apt-get', () => {
    expect(planChromium(machine({ isRoot: true, onPath: ['/usr/bin/apt-get'] }))).toEqual({ action: 'install' });
  });

  it('skips with the reason when it is missing and cannot be installed', () => {
    expect(planChromium(machine({ onPath: ['/usr/bin/apt-get'] }))).toEqual({
      action: 'skip',
      reason: 'Chromium is not installed, and installing it needs root',
    });
    expect(planChromium(machine({ isRoot: true }))).toEqual({
      action: 'skip',
      reason: 'Chromium is not installed, and this machine has no apt-get to install it',
    });
  });
});
