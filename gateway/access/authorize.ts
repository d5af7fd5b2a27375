/**
 * Who may do what with sessions, grants, approvals and recorded exchanges: each rule written
 * once, used by the REST API, the console and the services alike, so the two front ends cannot
 * disagree. A record the caller may not see is answered exactly like one that does not exist
 * (404), so ids of other people's records are never confirmed.
 */
import { SluiceError } from '../errors.ts';
import type { Identity } from '../identity/identity.ts';

/** A record that belongs to one subject (a session, a recorded exchange). */
export interface Owned {
  readonly subject: string;
}

/** A request someone else decides (an approval, an access grant). */
export interface Decidable extends Owned {
  readonly approverGroups: readonly string[];
}

type Who = Pick<Identity, 'sub' | 'groups'>;

/** Session administrators (config `sessions.adminGroups`) see and revoke every session and replay every exchange. */
export function isSessionAdmin(who: Who, adminGroups: readonly string[]): boolean {
  return who.groups.some((g) => adminGroups.includes(g));
}

/** A session or a recorded exchange: its owner and session administrators may see it (and revoke a session). */
export function mayAccessOwned(who: Who, record: Owned, adminGroups: readonly string[]): boolean {
  return record.subject === who.sub || isSessionAdmin(who, adminGroups);
}

/** An approval or grant: its requester and its approvers may see it. */
export function maySeeDecidable(who: Who, record: Decidable): boolean {
  return record.subject === who.sub || who.groups.some((g) => record.approverGroups.includes(g));
}

/** An approval or grant: an approver may decide it, never its own requester. */
export function mayDecide(who: Who, record: Decidable): boolean {
  return who.sub !== record.subject && who.groups.some((g) => record.approverGroups.includes(g));
}

/** `record` if `visible` says the caller may see it; otherwise the same 404 as for an id that does not exist. */
export function visibleOrNotFound<T>(record: T | undefined, visible: (r: T) => boolean, notFound: string): T {
  if (record === undefined || !visible(record)) throw new SluiceError('SLUICE_ERR_NOT_FOUND', notFound);
  return record;
}
