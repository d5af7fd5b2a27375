import { describe, expect, it } from 'vitest';
import { callerResponseHeaders, upstreamRequestHeaders } from '../../../gateway/upstream/headers.ts';

describe('header allow-lists', () => {
  it('never forwards the caller credentials, host, forwarding or hop-by-hop headers', () => {
    const out = upstreamRequestHeaders(
      {
        authorization: 'Bearer caller-token',
        'x-api-key': 'sk-ant-caller',
        host: 'evil.example',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-for': '1.2.3.4',
        connection: 'keep-alive, x-smuggle',
        'transfer-encoding': 'chunked',
        cookie: 'a=b',
        'anthropic-version': '2023-06-01',
        'anthropic-beta': 'skills-2025-10-02',
        'content-type': 'application/json',
        'x-stainless-lang': 'js',
      },
      { header: 'x-api-key', value: 'sk-upstream' },
    );
    expect(out).toEqual({
      'x-api-key': 'sk-upstream',
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'skills-2025-10-02',
      'content-type': 'application/json',
      'x-stainless-lang': 'js',
    });
  });

  it('puts a bearer credential in authorization when the connection says so', () => {
    expect(upstreamRequestHeaders({}, { header: 'authorization', value: 'Bearer k' })).toEqual({
      authorization: 'Bearer k',
    });
  });

  it('passes back rate-limit and retry headers only', () => {
    const out = callerResponseHeaders({
      'retry-after': '3',
      'anthropic-ratelimit-requests-remaining': '9',
      'set-cookie': 'x',
      'content-length': '10',
      'request-id': 'req_1',
    });
    expect(out).toEqual({ 'retry-after': '3', 'anthropic-ratelimit-requests-remaining': '9', 'request-id': 'req_1' });
  });
});
