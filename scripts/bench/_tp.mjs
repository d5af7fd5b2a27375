import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
const key = 'sk-bench-xyz';
function start(args, extra = []) {
  const c = spawn(process.execPath, [...extra, '--import', 'tsx', 'scripts/bench/target.ts', ...args], { env: { ...process.env, BENCH_UPSTREAM_KEY: key }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((r) => createInterface({ input: c.stdout }).once('line', (l) => r({ c, info: JSON.parse(l) })));
}
const mock = await start(['mock', '0']);
const bundle = process.argv[2];
const s = await start(['sluice', mock.info.url, bundle]);
const body = JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 1024, messages: [{ role: 'user', content: 'x'.repeat(4096) }] });
const r = await autocannon({ url: s.info.url + '/v1/messages', method: 'POST', headers: { authorization: 'Bearer ' + s.info.token, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body, connections: 32, duration: 8 });
console.log('req/s', r.requests.average, 'non2xx', r.non2xx);
s.c.kill('SIGTERM'); mock.c.kill('SIGTERM');
