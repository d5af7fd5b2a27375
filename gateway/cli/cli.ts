/**
 * The `sluice` command. Each subcommand parses its own flags with node:util parseArgs and
 * returns an exit code; nothing runs on import.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../config.ts';
import { describeStartupFailure, EXIT_CONFIG, formatStartupFailure } from './startup-failure.ts';

export const USAGE = `usage: sluice <command> [options]

commands:
  serve [--config FILE]                      start the gateway (embedded defaults without --config)
  token [--sub S] [--groups a,b] [--scopes s1,s2] [--ttl SECONDS] [--config FILE]
                                             mint a token from the embedded dev issuer
  token --print [--cache FILE] [--min-ttl SECONDS]
                                             print the signed-in person's access token (refreshed when
                                             it expires within --min-ttl, default 60)
  login [--issuer URL] [--client-id ID] [--scope S] [--resource URI] [--device | --browser] [--cache FILE]
        [--config FILE]
                                             sign in at the people's identity provider (device code, or
                                             browser with a loopback redirect) and cache the tokens
  claude configure [--base-url URL] [--settings FILE] [--cache FILE] [--config FILE]
                                             point Claude Code at Sluice with \`sluice token --print\`
  bundle build [--policies DIR] [--out FILE] [--revision REV] [--sign KEY.pem [--signing-alg ALG]]
                                             build (and sign) the policy bundle with the pinned OPA CLI
  bundle verify BUNDLE --key PUBLIC.pem      check a bundle's signature, file by file
  bundle serve DIR [--port N] [--host H]     host bundles over HTTP (ETag, 304, long polling)
  policy impact --bundle NEW --audit FILE [--since 24h] [--fail-on KINDS] [--key PUB] [--examples N]
                [--min-decisions N] [--json]
                                             replay recorded decisions through a candidate bundle
  policy eval --bundle B (--input FILE | --audit FILE --decision-id ID) [--json]
                                             one recorded decision through bundle B, with what decided it
  audit verify FILE... | --kafka [--brokers B] [--topics T] [--config FILE] [--head ID:SEQ:HASH]... [--json]
                                             check the audit hash chain for gaps, reordering, edits
  audit tail [--file F | --kafka [--brokers B] [--topics T]] [--subject S] [--outcome O] [--session ID]
             [--follow] [--json] [--config FILE]
                                             print audit events readably, filtered
  audit migrate --file OLD --out NEW         rewrite a schema-1 audit file as schema 2, a new chain continuing it
`;

/** Runs one CLI invocation and returns its exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve': {
        // Each command's modules load when it runs: `token --print` (Claude Code's key helper, run
        // again and again) should not pay for the gateway's.
        const { serveCommand } = await import('./cli-serve.ts');
        return await serveCommand(parseArgs({ args: rest, options: { config: { type: 'string' } } }).values);
      }
      case 'token': {
        const { values } = parseArgs({
          args: rest,
          options: {
            config: { type: 'string' },
            sub: { type: 'string' },
            groups: { type: 'string' },
            scopes: { type: 'string' },
            ttl: { type: 'string' },
            print: { type: 'boolean' },
            cache: { type: 'string' },
            'min-ttl': { type: 'string' },
          },
        });
        if (!values.print) {
          if (values.cache !== undefined || values['min-ttl'] !== undefined)
            throw new Error('--cache and --min-ttl go with --print (the signed-in token)');
          const { tokenCommand } = await import('./cli-token.ts');
          return await tokenCommand(values);
        }
        // --print: the person's token from `sluice login`; the dev issuer's flags mean nothing here.
        const devFlags = (['config', 'sub', 'groups', 'scopes', 'ttl'] as const).filter((k) => values[k] !== undefined);
        if (devFlags.length > 0)
          throw new Error(`--print reads the sluice login cache; --${devFlags.join(', --')} mint dev tokens`);
        const minTtl = values['min-ttl'] === undefined ? undefined : Number(values['min-ttl']);
        if (minTtl !== undefined && !(Number.isInteger(minTtl) && minTtl >= 0))
          throw new Error(`--min-ttl must be a whole number of seconds, got "${values['min-ttl']}"`);
        const { printCachedToken } = await import('./token-print.ts');
        return await printCachedToken({ cache: values.cache, minTtlSeconds: minTtl });
      }
      case 'login': {
        const { loginCommand } = await import('./cli-login.ts');
        return await loginCommand(
          parseArgs({
            args: rest,
            options: {
              config: { type: 'string' },
              issuer: { type: 'string' },
              'client-id': { type: 'string' },
              scope: { type: 'string' },
              resource: { type: 'string' },
              device: { type: 'boolean' },
              browser: { type: 'boolean' },
              cache: { type: 'string' },
            },
          }).values,
        );
      }
      case 'claude': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            'base-url': { type: 'string' },
            settings: { type: 'string' },
            cache: { type: 'string' },
            config: { type: 'string' },
          },
        });
        const { claudeCommand } = await import('./cli-claude.ts');
        return await claudeCommand(positionals, values);
      }
      case 'audit':
        return await (await import('./cli-audit.ts')).auditCommand(rest);
      case 'bundle':
        return await (await import('./cli-bundle.ts')).bundleCommand(rest);
      case 'policy':
        return await (await import('./cli-policy.ts')).policyCommand(rest);
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
    if (command === 'serve') {
      const failure = describeStartupFailure(err);
      process.stderr.write(formatStartupFailure(failure));
      return failure.exitCode;
    }
    // Config and argument errors are the user's to fix: print them plainly, no stack.
    process.stderr.write(`sluice ${command}: ${(err as Error).message}\n`);
    // EX_CONFIG (sysexits.h): a supervisor can tell "will not start as configured" from a failure.
    return err instanceof ConfigError ? EXIT_CONFIG : 1;
  }
}
