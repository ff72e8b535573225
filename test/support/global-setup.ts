import 'vitest';
import type { TestProject } from 'vitest/node';
import { startDevServices } from '../../src/dev/services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    mongoUri: string;
    mongoKind: string;
  }
}

/** Real Redis and a real MongoDB-protocol server for the integration project, shared by its files. */
export default async function setup(project: TestProject) {
  const services = await startDevServices(process.env, (msg) => console.log(`[global-setup] ${msg}`));
  console.log(`[global-setup] redis ${services.redisUrl}, mongodb (${services.mongoKind}) ${services.mongoUri}`);
  project.provide('redisUrl', services.redisUrl);
  project.provide('mongoUri', services.mongoUri);
  project.provide('mongoKind', services.mongoKind);
  return async () => {
    await services.stop();
  };
}
