import type { Config } from 'jest';

/** Decorator tests run twice: compiled with legacy decorators (TypeORM's mode) and with TC39 ones. */
const base = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testTimeout: 30_000,
};

const config: Config = {
  // Real Redis and databases: give slow CI machines room, but never hang forever.
  testTimeout: 30_000,
  projects: [
    {
      ...base,
      displayName: 'legacy-decorators',
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['\\.tc39\\.test\\.ts$'],
      transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
    },
    {
      ...base,
      displayName: 'tc39-decorators',
      testMatch: ['**/*.tc39.test.ts'],
      transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.tc39.json' }] },
    },
  ],
};

export default config;
