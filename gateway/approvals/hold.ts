import type { ServerResponse } from 'node:http';
import { SluiceError } from '../errors.ts';
import { deniedError } from '../access/approval-events.ts';
import type { ApprovalService } from '../access/approval-service.ts';
import type { Approval } from '../access/approval-store.ts';

/** How long to hold and how often to show the caller that the gateway is still there. */
export interface HoldOptions {
  readonly holdMs: number;
  readonly keepAliveMs: number;
}

/**
 * Holds a caller's connection open until `approval` leaves pending, the hold time runs out or
 * the caller leaves. Resolves with the approved approval; throws the 403 that fits otherwise.
 *
 * Why `102 Processing` and not SSE pings: once a 200 with SSE headers is sent, a denial can
 * only be an in-stream `event: error`, which the Anthropic SDKs raise as a status-less APIError
 * instead of a PermissionDeniedError. Interim 1xx responses carry bytes on the wire (idle
 * timers of proxies that forward them are reset) yet leave the final status free, so streaming
 * and non-streaming calls are held the same way and get a real 403 or the real response. Node's
 * fetch (undici, used by the TS SDK) and httpx (Python SDK) skip 1xx responses. TCP keepalive
 * is switched on as well for proxies that swallow 1xx.
 */
export async function holdForDecision(
  service: ApprovalService,
  res: ServerResponse,
  approval: Approval,
  options: HoldOptions,
): Promise<Approval> {
  const gone = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) gone.abort();
  };
  res.on('close', onClose);
  res.socket?.setKeepAlive(true, options.keepAliveMs);
  const keepAlive = setInterval(() => {
    if (!res.headersSent && !res.destroyed) res.writeProcessing();
  }, options.keepAliveMs);
  let settled: Approval;
  try {
    settled = await service.waitFor(approval.id, options.holdMs, gone.signal);
  } finally {
    clearInterval(keepAlive);
    res.off('close', onClose);
  }
  switch (settled.state) {
    case 'approved':
      return settled;
    case 'denied':
      throw deniedError(settled);
    case 'expired':
      throw new SluiceError(
        'SLUICE_ERR_APPROVAL_EXPIRED',
        `approval ${settled.id} expired at ${settled.expiresAt} before anyone decided`,
      );
    case 'used':
      throw new SluiceError('SLUICE_ERR_APPROVAL_INVALID', `approval ${settled.id} was used by another request`);
    case 'pending':
      if (gone.signal.aborted) {
        throw new SluiceError(
          'SLUICE_ERR_APPROVAL_TIMEOUT',
          `caller left while approval ${settled.id} was pending; ` +
            `resubmit the identical request with x-sluice-approval-id: ${settled.id}`,
        );
      }
      throw new SluiceError(
        'SLUICE_ERR_APPROVAL_TIMEOUT',
        `approval ${settled.id} is still pending (required because ${settled.reason}); ` +
          'once approved, resubmit the identical request with header ' +
          `x-sluice-approval-id: ${settled.id} before ${settled.expiresAt}`,
      );
  }
}
