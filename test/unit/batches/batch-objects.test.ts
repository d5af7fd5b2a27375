import { describe, expect, it } from 'vitest';
import { callerBase, rewriteBatchObjects } from '../../../gateway/batches/batch-objects.ts';

const UPSTREAM = 'https://api.anthropic.com/v1/messages/batches/msgbatch_1/results';

describe('results_url on the way to the caller', () => {
  it('points every batch at Sluice, on the origin and connection prefix the caller used', () => {
    const base = callerBase('https', 'sluice.example.com:8443', 'secondary');
    const batch = { type: 'message_batch', id: 'msgbatch_1', results_url: UPSTREAM };
    expect(rewriteBatchObjects(batch, base)).toEqual({
      ...batch,
      results_url: 'https://sluice.example.com:8443/c/secondary/v1/messages/batches/msgbatch_1/results',
    });
    const page = { data: [batch, { ...batch, id: 'msgbatch_2', results_url: null }], has_more: false };
    const rewritten = rewriteBatchObjects(page, callerBase('http', '127.0.0.1:4000', undefined)) as typeof page;
    expect(rewritten.data.map((b) => b.results_url)).toEqual([
      'http://127.0.0.1:4000/v1/messages/batches/msgbatch_1/results',
      null,
    ]);
    expect(JSON.stringify(rewritten)).not.toContain('anthropic.com');
  });

  it('gives no URL rather than one built from an odd host or id', () => {
    const batch = { id: 'msgbatch_1', results_url: UPSTREAM };
    for (const host of ['evil.example/x?', 'user@evil.example', 'a b', '']) {
      expect(rewriteBatchObjects(batch, callerBase('https', host, undefined))).toEqual({ ...batch, results_url: null });
    }
    const odd = { id: '../files/x', results_url: UPSTREAM };
    expect(rewriteBatchObjects(odd, callerBase('https', 'sluice.example.com', undefined))).toEqual({
      ...odd,
      results_url: null,
    });
    expect(callerBase('https', '[::1]:8080', 'a/b').prefix).toBe('/c/a%2Fb');
    expect(callerBase('https', '[::1]:8080', undefined).origin).toBe('https://[::1]:8080');
  });
});
