#!/usr/bin/env node
// Runs the CLI from dist/ when it was compiled from the current sources (gateway/bin/dist.mjs),
// otherwise the TypeScript through tsx, so that the repo needs no separate build step.
import { compiledCli } from './dist.mjs';

// A reader that went away (`sluice audit tail | head`) ends the command quietly, as Unix tools
// do, instead of crashing on the next write with an unhandled EPIPE.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

let cli = compiledCli();
if (!cli) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = '../cli/cli.ts';
}
const { main } = await import(cli);
process.exitCode = await main(process.argv.slice(2));
