import type { Config } from 'jest';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  // Real Redis and databases: give slow CI machines room, but never hang forever.
  testTimeout: 30_000,
  // Tests that leave a socket or timer open are bugs; fail loudly rather than hang CI.
  detectOpenHandles: false,
  forceExit: false,
};

export default config;
