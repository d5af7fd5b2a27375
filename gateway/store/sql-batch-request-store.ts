import type { BatchRequestRecord, BatchRequestStore, ResponseMask } from '../batches/batch-store.ts';
import type { Budget } from '../policy/decision.ts';
import type { StateDb } from './state-db.ts';

interface Row {
  readonly custom_id: string;
  readonly decision_id: string;
  readonly response_mask: ResponseMask;
  readonly budgets: Budget[];
  readonly model: string | null;
}

/** Rows per INSERT: a 100 000-request batch is written in a few statements, not one per request. */
const CHUNK = 5000;

/** The requests of Message Batches in the state database (table batch_requests). */
export class SqlBatchRequestStore implements BatchRequestStore {
  constructor(private readonly db: StateDb) {}

  async record(connection: string, batchId: string, requests: readonly BatchRequestRecord[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (let at = 0; at < requests.length; at += CHUNK) {
        const part = requests.slice(at, at + CHUNK);
        await tx.query(
          `INSERT INTO batch_requests (connection, batch_id, custom_id, decision_id, response_mask, budgets, model)
           SELECT $1, $2, r.custom_id, r.decision_id, r.response_mask::jsonb, r.budgets::jsonb, r.model
           FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
             AS r (custom_id, decision_id, response_mask, budgets, model)
           ON CONFLICT (connection, batch_id, custom_id) DO NOTHING`,
          [
            connection,
            batchId,
            part.map((r) => r.customId),
            part.map((r) => r.decisionId),
            part.map((r) => JSON.stringify(r.responseMask)),
            part.map((r) => JSON.stringify(r.budgets)),
            part.map((r) => r.model ?? null),
          ],
        );
      }
    });
  }

  async requests(connection: string, batchId: string): Promise<Map<string, BatchRequestRecord>> {
    const rows = await this.db.query<Row>(
      `SELECT custom_id, decision_id, response_mask, budgets, model FROM batch_requests
       WHERE connection = $1 AND batch_id = $2`,
      [connection, batchId],
    );
    return new Map(
      rows.map((r) => [
        r.custom_id,
        {
          customId: r.custom_id,
          decisionId: r.decision_id,
          responseMask: r.response_mask,
          budgets: r.budgets,
          model: r.model ?? undefined,
        },
      ]),
    );
  }

  async claimSettlement(connection: string, batchId: string, customIds: readonly string[]): Promise<Set<string>> {
    if (customIds.length === 0) return new Set();
    // One conditional UPDATE: of two instances reading the same results at once, each row goes to one.
    const rows = await this.db.query<{ custom_id: string }>(
      `UPDATE batch_requests SET settled_at = now()
       WHERE connection = $1 AND batch_id = $2 AND custom_id = ANY($3::text[]) AND settled_at IS NULL
       RETURNING custom_id`,
      [connection, batchId, [...customIds]],
    );
    return new Set(rows.map((r) => r.custom_id));
  }

  async forget(connection: string, batchId: string): Promise<void> {
    await this.db.query('DELETE FROM batch_requests WHERE connection = $1 AND batch_id = $2', [connection, batchId]);
  }
}
