/**
 * The one error type that decoding untrusted bytes may raise.
 *
 * Everything in src/protocol that reads bytes from the network or from disk reports
 * malformed input through this class and nothing else, so a caller can tell "the peer
 * sent garbage" (close that connection, keep serving everyone else) apart from a bug.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';

  constructor(
    message: string,
    /** Byte offset in the input at which the problem was noticed, when known. */
    readonly offset = -1,
  ) {
    super(message);
  }
}

/** Raised when asked to encode a value that the wire format cannot carry. */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
}

/** Used by generated encoders for fields that are nullable only in some versions. */
export function notNull<T>(value: T | null, field: string): T {
  if (value === null) throw new EncodeError(`${field} is null but is not nullable in this version`);
  return value;
}
