/**
 * A file a tool created (code execution): downloadable, made on the upstream, its owner seeded as
 * the gateway would record it. The gateway does not yet record owners from message answers.
 */
import { randomBytes } from 'node:crypto';
import type { Harness } from './gateway-harness.ts';

export async function seedToolFile(h: Harness, owner: string, bytes: number): Promise<{ id: string; data: Buffer }> {
  const data = randomBytes(bytes);
  const meta = h.upstream.files.add('chart.png', 'image/png', data, { downloadable: true });
  await h.gateway.ownership.record({
    type: 'file',
    id: meta.id,
    connection: 'anthropic',
    owner,
    createdAt: new Date().toISOString(),
    details: { filename: 'chart.png', media_type: 'image/png', size_bytes: data.length },
  });
  return { id: meta.id, data };
}
