import type { ExchangeRecordBody } from '../audit/events.ts';
import type { SluiceError } from '../errors.ts';

/** The relay stage's output: what the caller got, as the exchange record keeps it. */
export interface Relayed {
  readonly response: NonNullable<ExchangeRecordBody['response']>;
  /** False when response masking scanned the whole answer and masked every entity: the audit needs no second scan. */
  readonly responseMayHoldEntities: boolean;
  /** A failure after the answer began (a stream cut at the size limit): the call still ends normally. */
  readonly error?: SluiceError;
}
