import { runCli } from '../../src/cli/program.js';
import type { AppContext } from '../../src/app/context.js';

/** The CLI in this process, on a test app's context (the built binary is covered by cli.test.ts). */
export async function cliInProcess(ctx: AppContext, args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    context: async () => ctx,
    config: () => ctx.config,
    runSimulators: async () => {},
  });
  return { code, out, err };
}
