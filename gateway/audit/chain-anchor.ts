/**
 * Anchors the audit chain outside the audit log. A hash chain reveals an edited event through its
 * successor, so an edit of the last event, or the removal of the last events, cannot be seen from
 * the file (or topic) alone. The gateway therefore logs its chain head (`INSTANCE:SEQ:HASH`) to the
 * operational log every interval in which it moved, and once more when it closes; wherever those
 * logs are shipped, a recorded head lets `sluice audit verify --head` prove that the chain still
 * holds that event, unchanged, and everything before it.
 */
import { formatChainHead, type AuditLog } from './audit-log.ts';

/** The operational logger (pino's shape). */
export interface AnchorLogger {
  info(obj: object, msg: string): void;
}

/** Starts anchoring; close() logs the final head (call it after the last event is recorded). */
export function anchorChainHead(audit: AuditLog, log: AnchorLogger, intervalMs: number): { close(): void } {
  let loggedSeq = 0;
  const logHead = (): void => {
    const head = audit.head();
    if (head.seq === loggedSeq) return;
    loggedSeq = head.seq;
    log.info({ audit_chain_head: formatChainHead(head) }, 'audit chain head');
  };
  const timer = setInterval(logHead, intervalMs);
  timer.unref(); // never keeps the process alive on its own
  return {
    close() {
      clearInterval(timer);
      logHead();
    },
  };
}
