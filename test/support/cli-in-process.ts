import { runCli } from '../../src/cli/program.js';
import type { AppContext } from '../../src/lib/context.js';

/** The CLI in this process, on a test app's context (the built binary is covered by cli.test.ts). */
export async function cliInProcess(ctx: AppContext, args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    context: async () => ctx,
    config: () => ctx.config,
    runSimulators: async () => {},
  });
  return { code, out, err };
}
