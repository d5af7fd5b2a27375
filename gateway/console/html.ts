/**
 * Server-rendered HTML for the console: every value goes through `esc`, pages carry no inline
 * script (the CSP forbids scripts, except the usage page's chart from the console's own origin),
 * forms post back with the session's CSRF token.
 */

/** Escapes text for HTML element content and double-quoted attributes. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** Security headers for every console page. */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  // Not no-referrer: with it Chromium sends `Origin: null` on form posts, which the CSRF check refuses.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
} as const;

const STYLE = [
  'body{font:14px system-ui,sans-serif;margin:0;color:#1b1f24}' +
    'header{background:#0b3954;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}',
  'header a{color:#fff}main{padding:20px;max-width:1100px}table{border-collapse:collapse;width:100%}' +
    'td,th{border-bottom:1px solid #ddd;padding:6px;text-align:left;vertical-align:top}',
  'pre{white-space:pre-wrap;background:#f4f4f4;padding:8px;max-height:240px;overflow:auto}' +
    '.card{border:1px solid #ccc;border-radius:6px;padding:12px;margin:12px 0}',
  '.muted{color:#666}button{margin-right:6px}textarea{width:100%}' +
    '.msg{padding:8px;border-left:4px solid #0b3954;margin:8px 0;background:#f7f9fb}',
].join('\n');

/** The page frame: navigation, who is signed in, a sign-out form. */
export function layout(title: string, body: string, who?: { sub: string; csrf: string }): string {
  const nav = who
    ? '<a href="/sluice/console/approvals">Approvals</a><a href="/sluice/console/grants">Grants</a>' +
      '<a href="/sluice/console/usage">Usage</a>' +
      `<a href="/sluice/console/sessions">Sessions</a>
<span class="who">${esc(who.sub)}</span>` +
      `<form method="post" action="/sluice/console/logout">${csrfField(who.csrf)}<button>Sign out</button></form>`
    : '';
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · Sluice</title>` +
    `<style>${STYLE}</style></head>
<body><header><strong>Sluice console</strong>${nav}</header><main><h1>${esc(title)}</h1>${body}</main></body></html>`
  );
}

/** The hidden CSRF input every console form carries. */
export function csrfField(token: string): string {
  return `<input type="hidden" name="_csrf" value="${esc(token)}">`;
}
