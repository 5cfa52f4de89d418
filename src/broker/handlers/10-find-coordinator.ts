import { ErrorCode } from '../../protocol/error-codes.js';
import { FindCoordinatorApi } from '../../protocol/messages/index.js';
import { handler } from './handler.js';

const GROUP = 0;
const TRANSACTION = 1;

/**
 * FindCoordinator 0–4: on a single node every group and transactional id is coordinated by
 * this broker. v4 answers a list of keys at once. Advertising v0 matters beyond groups:
 * librdkafka 2.0 enables lz4 (and its balanced consumer) only when FindCoordinator v0 is
 * advertised.
 */
export const findCoordinatorHandler = handler(FindCoordinatorApi, 0, 4, async (ctx, req) => {
  const v = ctx.header.apiVersion;
  const { host, port } = ctx.broker.advertised;
  const nodeId = ctx.broker.config.nodeId;
  const keyType = req.keyType ?? GROUP;
  const problem =
    keyType !== GROUP && keyType !== TRANSACTION ? { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unknown coordinator key type ${keyType}` } : null;
  if (v >= 4) {
    return {
      throttleTimeMs: 0,
      coordinators: (req.coordinatorKeys ?? []).map((key) =>
        problem !== null
          ? { key, nodeId: -1, host: '', port: -1, ...problem }
          : { key, nodeId, host, port, errorCode: ErrorCode.NONE, errorMessage: null },
      ),
    };
  }
  if (problem !== null) return { throttleTimeMs: 0, ...problem, nodeId: -1, host: '', port: -1 };
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, nodeId, host, port };
});
