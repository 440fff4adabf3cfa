// ESM + TypeScript through ts-jest; see docs/testing.md for the two database engines.
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: [151002] } }],
  },
  // Finds Chromium for the browser tests, installs Debian's where it can, or says why they skip.
  globalSetup: '<rootDir>/test/setup/chromium.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
};
