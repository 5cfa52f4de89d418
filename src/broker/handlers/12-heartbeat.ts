import { HeartbeatApi } from '../../protocol/messages/index.js';
import { handler } from './handler.js';

/** Heartbeat 0–4: keeps a member's session alive and tells it when to rejoin. */
export const heartbeatHandler = handler(HeartbeatApi, 0, 4, async (ctx, req) => ({
  throttleTimeMs: 0,
  errorCode: ctx.broker.groups.heartbeat(req.groupId, req.memberId, req.groupInstanceId ?? null, req.generationId),
}));
