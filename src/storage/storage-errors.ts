import { ErrorCode } from '../protocol/error-codes.js';

/**
 * A storage condition with the Kafka error code a broker handler answers with
 * (OFFSET_OUT_OF_RANGE, MESSAGE_TOO_LARGE, CORRUPT_MESSAGE, KAFKA_STORAGE_ERROR...).
 */
export class StorageError extends Error {
  override readonly name: string = 'StorageError';

  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** The partition is offline: its data failed a check or its files failed an I/O call. */
export class LogOfflineError extends StorageError {
  override readonly name = 'LogOfflineError';

  constructor(message: string) {
    super(ErrorCode.KAFKA_STORAGE_ERROR, message);
  }
}
