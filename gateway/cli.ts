/**
 * The `sluice` command. Each subcommand parses its own flags with node:util parseArgs and
 * returns an exit code; nothing runs on import.
 */
import { parseArgs } from 'node:util';
import { bundleCommand } from './cli-bundle.ts';
import { serveCommand } from './cli-serve.ts';
import { tokenCommand } from './cli-token.ts';

const USAGE = `usage: sluice <command> [options]

commands:
  serve [--config FILE]                      start the gateway (embedded defaults without --config)
  token [--sub S] [--groups a,b] [--scopes s1,s2] [--ttl SECONDS] [--config FILE]
                                             mint a token from the embedded dev issuer
  bundle build [--policies DIR] [--out FILE] [--revision REV]
                                             build the policy bundle with the pinned OPA CLI
`;

/** Runs one CLI invocation and returns its exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serveCommand(parseArgs({ args: rest, options: { config: { type: 'string' } } }).values);
      case 'token':
        return await tokenCommand(
          parseArgs({
            args: rest,
            options: {
              config: { type: 'string' },
              sub: { type: 'string' },
              groups: { type: 'string' },
              scopes: { type: 'string' },
              ttl: { type: 'string' },
            },
          }).values,
        );
      case 'bundle':
        return await bundleCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`sluice: unknown command "${command}"\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    // Config and argument errors are the user's to fix: print them plainly, no stack.
    process.stderr.write(`sluice ${command}: ${(err as Error).message}\n`);
    return 1;
  }
}
