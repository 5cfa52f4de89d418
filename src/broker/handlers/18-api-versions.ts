import { ErrorCode } from '../../protocol/error-codes.js';
import { ApiVersionsApi } from '../../protocol/messages/index.js';
import { handler } from './handler.js';

/**
 * ApiVersions 0–3: the APIs and versions this broker serves. A request at a version above 3
 * never reaches here: the broker answers it with the KIP-511 v0 fallback (Broker.unsupported).
 */
export const apiVersionsHandler = handler(ApiVersionsApi, 0, 3, async (ctx) => ({
  errorCode: ErrorCode.NONE,
  apiKeys: ctx.broker.apiVersions(),
  throttleTimeMs: 0,
}));
