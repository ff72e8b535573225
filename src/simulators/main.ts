/** Entry point of `npm run sim` (e.g. `tsx src/simulators/main.ts --base-port 4101`). */
import { runSimulatorsCli } from './cli.js';

runSimulatorsCli(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
