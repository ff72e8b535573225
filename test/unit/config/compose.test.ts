import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fullEnvSchema } from '../../../config/index.js';

const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');

interface Service {
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  build?: { context: string; dockerfile: string };
}

/** The compose file is JSON (a subset of YAML) after its leading comment lines. */
function compose(): { services: Record<string, Service> } {
  const text = read('config/docker-compose.yml');
  return JSON.parse(
    text
      .split('\n')
      .filter((line) => !line.startsWith('#'))
      .join('\n'),
  );
}

function procfile(): Record<string, string[]> {
  return Object.fromEntries(
    read('Procfile')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'))
      .map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).trim(), line.slice(colon + 1).trim().split(/\s+/)];
      }),
  );
}

describe('config/docker-compose.yml', () => {
  const { services } = compose();
  const processes = procfile();

  it('runs exactly the Procfile processes, each with its Procfile command, plus Redis and MongoDB', () => {
    expect(Object.keys(processes).sort()).toEqual(['scheduler', 'web', 'worker']);
    expect(Object.keys(services).sort()).toEqual([...Object.keys(processes), 'mongodb', 'redis'].sort());
    for (const [name, command] of Object.entries(processes)) {
      expect(services[name]?.command, name).toEqual(command);
      expect(services[name]?.build?.dockerfile, name).toBe('config/Dockerfile');
    }
  });

  it('every process waits for healthy Redis and MongoDB and is pointed at them', () => {
    for (const name of Object.keys(processes)) {
      const service = services[name]!;
      expect(service.depends_on).toEqual({ redis: { condition: 'service_healthy' }, mongodb: { condition: 'service_healthy' } });
      expect(new URL(service.environment!['REDIS_URL']!).hostname).toBe('redis');
      expect(new URL(service.environment!['MONGODB_URI']!).hostname).toBe('mongodb');
    }
    expect(services['redis']?.command).toEqual(expect.arrayContaining(['--maxmemory-policy', 'noeviction']));
  });

  it('sets only documented settings', () => {
    const known = new Set(Object.keys(fullEnvSchema.shape));
    for (const name of Object.keys(processes)) {
      const unknown = Object.keys(services[name]!.environment ?? {}).filter((key) => !known.has(key));
      expect(unknown, name).toEqual([]);
    }
  });
});
