import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { loadConfig, resolveConfig, usesDevIssuer, type SluiceConfig } from '../config.ts';
import { MockClaude } from '../dev/mock-claude.ts';
import { startGateway } from '../start.ts';

/** Env var the embedded echo upstream's generated key is passed in (never printed). */
const ECHO_KEY_ENV = 'SLUICE_ECHO_API_KEY';

interface EmbeddedUpstream {
  readonly config: SluiceConfig;
  readonly env: NodeJS.ProcessEnv;
  readonly echo: MockClaude | undefined;
}

/**
 * Embedded defaults: the real Anthropic API when ANTHROPIC_API_KEY is set, otherwise a local echo
 * upstream (the mock Messages API) so that a first run works offline and says so loudly.
 */
async function embeddedDefaults(env: NodeJS.ProcessEnv): Promise<EmbeddedUpstream> {
  if (env.ANTHROPIC_API_KEY) return { config: resolveConfig({}, env), env, echo: undefined };
  const apiKey = randomBytes(24).toString('base64url');
  const echo = await MockClaude.start({ apiKey });
  const echoEnv = { ...env, [ECHO_KEY_ENV]: apiKey };
  const config = resolveConfig(
    { connections: [{ name: 'anthropic', baseUrl: echo.url, apiKeyEnv: ECHO_KEY_ENV, echo: true }] },
    echoEnv,
  );
  return { config, env: echoEnv, echo };
}

function example(url: string, config: SluiceConfig): string {
  const echo = config.connections.some((c) => c.echo);
  const tokenCmd = !usesDevIssuer(config)
    ? '# get an access token from your OIDC provider'
    : 'export SLUICE_TOKEN=$(npx sluice token --sub alice --groups engineering)';
  return [
    '',
    `Sluice is listening on ${url}`,
    echo
      ? '  upstream: LOCAL ECHO (no ANTHROPIC_API_KEY set) — answers are "[echo from mock-claude] …", not Claude'
      : `  upstream: ${config.connections.map((c) => `${c.name} → ${c.baseUrl}`).join(', ')}`,
    `  policy bundle: ${config.policy.bundle}    audit log: ${config.audit.file.path}`,
    '',
    'Try it:',
    `  ${tokenCmd}`,
    `  curl -s ${url}/v1/messages -H "authorization: Bearer $SLUICE_TOKEN" -H 'anthropic-version: 2023-06-01' \\`,
    `    -H 'content-type: application/json' -d '{"model":"claude-sonnet-4-6","max_tokens":256,` +
      `"messages":[{"role":"user","content":"Hello"}]}'`,
    '',
    '  // Node: the official SDK, unchanged',
    `  const client = new Anthropic({ baseURL: '${url}', authToken: process.env.SLUICE_TOKEN, apiKey: null });`,
    '',
  ].join('\n');
}

/** `sluice serve [--config FILE]`: runs until SIGINT/SIGTERM, then closes cleanly (audit flushed). */
export async function serveCommand(opts: { config?: string }, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const embedded = opts.config
    ? { config: loadConfig(opts.config, env), env, echo: undefined }
    : await embeddedDefaults(env);
  const gateway = await startGateway(embedded.config, embedded.env).catch(async (err: unknown) => {
    await embedded.echo?.close();
    throw err;
  });
  process.stderr.write(`${example(gateway.url, embedded.config)}\n`);
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  await gateway.close();
  await embedded.echo?.close();
  return 0;
}
