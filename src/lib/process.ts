import { type Config, ConfigError, describeConfig, loadConfig } from '../../config/index.js';
import { createLogger, type Logger } from './logger.js';

export interface Running {
  stop(): Promise<void>;
}

/**
 * The shared life cycle of every process entry point: validate configuration once, log it
 * without secrets, start, and answer SIGTERM/SIGINT with a graceful stop. Start-up failures
 * exit non-zero with one clear line instead of a stack trace.
 */
export async function runProcess(
  name: string,
  env: Record<string, string | undefined>,
  start: (config: Config, log: Logger) => Promise<Running>,
): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`consent-sync ${name}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger({
    level: config.log.level,
    format: config.log.format,
    name: `consent-sync-${name}`,
  });
  log.info({ config: describeConfig(config) }, `${name} starting`);

  let running: Running;
  try {
    running = await start(config, log);
  } catch (err) {
    log.fatal({ err }, `${name} failed to start`);
    process.stderr.write(`consent-sync ${name}: failed to start: ${(err as Error).message}\n`);
    await new Promise((r) => setTimeout(r, 50));
    process.exit(1);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `${name} stopping`);
    const force = setTimeout(() => {
      log.error({ graceMs: config.shutdownGraceMs }, `${name} did not stop in time; exiting`);
      process.exit(1);
    }, config.shutdownGraceMs + 5_000);
    force.unref();
    try {
      await running.stop();
      log.info(`${name} stopped`);
      process.exit(0);
    } catch (err) {
      log.error({ err }, `${name} stop failed`);
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  log.info(`${name} ready`);
}
