import { JoinGroupApi } from '../../protocol/messages/index.js';
import { clientHostOf } from './group-context.js';
import { handler } from './handler.js';

/**
 * JoinGroup 0–9. The response waits for the end of the join phase (the group coordinator
 * holds it); v0 has no rebalance timeout (the session timeout is used, as Kafka does), v4+
 * makes a new dynamic member fetch its id first (MEMBER_ID_REQUIRED), v5+ carries static
 * membership, v9 tells a rejoining static leader to keep the current assignment.
 */
export const joinGroupHandler = handler(JoinGroupApi, 0, 9, async (ctx, req) => {
  const v = ctx.header.apiVersion;
  // Joining can wait for a whole rebalance: the connection's next request may start meanwhile.
  ctx.release();
  const r = await ctx.broker.groups.join({
    groupId: req.groupId,
    memberId: req.memberId,
    groupInstanceId: req.groupInstanceId ?? null,
    clientId: ctx.header.clientId ?? '',
    clientHost: clientHostOf(ctx),
    sessionTimeoutMs: req.sessionTimeoutMs,
    rebalanceTimeoutMs: v >= 1 && req.rebalanceTimeoutMs !== undefined ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
    protocolType: req.protocolType,
    protocols: req.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
    requireKnownMemberId: v >= 4,
    supportsSkipAssignment: v >= 9,
  });
  return {
    throttleTimeMs: 0,
    errorCode: r.errorCode,
    generationId: r.generationId,
    ...(v >= 7 ? { protocolType: r.protocolType } : {}),
    // Before v7 the protocol name is not nullable.
    protocolName: v >= 7 ? r.protocolName : (r.protocolName ?? ''),
    leader: r.leaderId,
    ...(v >= 9 ? { skipAssignment: r.skipAssignment } : {}),
    memberId: r.memberId,
    members: r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata })),
  };
});
