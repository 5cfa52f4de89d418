import { SyncGroupApi } from '../../protocol/messages/index.js';
import { handler } from './handler.js';

/** SyncGroup 0–5: followers wait for the leader's assignment; v5 checks the protocol type and name. */
export const syncGroupHandler = handler(SyncGroupApi, 0, 5, async (ctx, req) => {
  ctx.release();
  const r = await ctx.broker.groups.sync({
    groupId: req.groupId,
    generationId: req.generationId,
    memberId: req.memberId,
    groupInstanceId: req.groupInstanceId ?? null,
    protocolType: req.protocolType ?? null,
    protocolName: req.protocolName ?? null,
    assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
  });
  const v = ctx.header.apiVersion;
  return { throttleTimeMs: 0, errorCode: r.errorCode, ...(v >= 5 ? { protocolType: r.protocolType, protocolName: r.protocolName } : {}), assignment: r.assignment };
});
