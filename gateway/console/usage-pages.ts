import type { FastifyInstance } from 'fastify';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readUsage, type UsageRow } from '../access/usage-routes.ts';
import type { UsageStore } from '../usage/usage-store.ts';
import type { ConsoleSession } from './console-sessions.ts';
import { esc, layout, PAGE_HEADERS } from './html.ts';

/** What the usage page needs from the console plugin. */
export interface UsagePagesDeps {
  readonly usage: UsageStore;
  readonly adminGroups: readonly string[];
  readonly isAdmin: (s: ConsoleSession) => boolean;
}

const BASE = '/sluice/console';
// The repo root, from gateway/console/ or dist/console/ alike: the chart script is not compiled, it is served as is.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The scripts the page loads, each read once: Chart.js from the installed package (its UMD build,
 * which defines the `Chart` global; no CDN) and the page's own drawing code.
 */
const ASSETS: Readonly<Record<string, () => string>> = {
  'chart.umd.min.js': () => join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js'),
  'usage-chart.js': () => join(ROOT, 'gateway', 'console', 'assets', 'usage-chart.js'),
};

/** The console's headers, except that this page may run scripts from the console's own origin (no inline script). */
const USAGE_PAGE_HEADERS = {
  ...PAGE_HEADERS,
  'content-security-policy': `${PAGE_HEADERS['content-security-policy']}; script-src 'self'`,
};

/** JSON for a `<script type="application/json">` element: no `<` can end the element early. */
const scriptJson = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');

/** The usage page: a key picker for administrators, the chart, and the same rows as a table. */
function usagePage(rows: readonly UsageRow[], key: string, days: string, admin: boolean): string {
  const picker = admin
    ? `<label>Budget key <input name="key" value="${esc(key)}" size="40"></label> `
    : `<span class="muted">Your budget: ${esc(key)}</span> `;
  const form =
    `<form method="get" action="${BASE}/usage" class="usage-query">${picker}` +
    `<label>Days <input name="days" type="number" min="1" max="400" value="${esc(days)}"></label> ` +
    '<button>Show</button></form>';
  const chart =
    rows.length === 0
      ? `<p class="muted">No usage of ${esc(key)} in the last ${esc(days)} days.</p>`
      : `<div style="position:relative;height:320px"><canvas id="usage-chart" role="img" ` +
        `aria-label="Tokens used per window by ${esc(key)}"></canvas></div>` +
        `<script type="application/json" id="usage-data">${scriptJson(rows)}</script>`;
  const table =
    '<table class="usage"><tr><th>Key</th><th>Window start</th><th>Window (s)</th><th>Requests</th>' +
    '<th>Tokens</th><th>Reserved</th><th>Token limit</th><th>Cost (USD)</th></tr>' +
    rows
      .map(
        (r) =>
          `<tr><td>${esc(r.key)}</td><td>${esc(r.window_start)}</td><td>${r.window_seconds}</td>` +
          `<td>${r.requests}</td><td>${r.tokens}</td><td>${r.reserved_tokens}</td>` +
          `<td>${r.limit_tokens ?? ''}</td><td>${r.cost_usd.toFixed(6)}</td></tr>`,
      )
      .join('') +
    '</table>';
  const scripts =
    rows.length === 0
      ? ''
      : `<script src="${BASE}/assets/chart.umd.min.js"></script><script src="${BASE}/assets/usage-chart.js"></script>`;
  return form + chart + table + scripts;
}

/**
 * Usage in the console, inside the console plugin (its sign-in hook covers the page and its
 * scripts): everyone their own budget's counters over time, administrators any key they name;
 * who may read which key is decided by readUsage, exactly as for /sluice/api/usage.
 */
export function usagePages(app: FastifyInstance, deps: UsagePagesDeps): void {
  const loaded = new Map<string, Promise<string>>();

  app.get('/usage', async (req, reply) => {
    const s = req.consoleSession!;
    const query = req.query as { key?: string; days?: string };
    const key = query.key || `subject:${s.identity.sub}`;
    const days = query.days || '31';
    const rows = await readUsage(deps.usage, s.identity, deps.adminGroups, { key, days });
    const body = usagePage(rows, key, days, deps.isAdmin(s));
    return reply.headers(USAGE_PAGE_HEADERS).send(layout('Usage', body, { sub: s.identity.sub, csrf: s.csrfToken }));
  });

  app.get('/assets/:name', async (req, reply) => {
    const { name } = req.params as { name: string };
    const path = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!path) return reply.callNotFound();
    let text = loaded.get(name);
    if (!text) loaded.set(name, (text = readFile(path(), 'utf8')));
    return reply
      .headers({
        'content-type': 'text/javascript; charset=utf-8',
        'x-content-type-options': 'nosniff',
        'cache-control': 'private, max-age=3600',
      })
      .send(await text);
  });
}
