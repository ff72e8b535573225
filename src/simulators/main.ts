/** Entry point of `npm run sim` (e.g. `tsx src/simulators/main.ts --base-port 4101`). */
import { runSimulatorsCli } from './cli.js';
import { SIM_WEBHOOK_SECRET_ENV } from './core/webhooks.js';

const webhookSecret = process.env[SIM_WEBHOOK_SECRET_ENV];
runSimulatorsCli(process.argv.slice(2), webhookSecret ? { webhookSecret } : {}).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
