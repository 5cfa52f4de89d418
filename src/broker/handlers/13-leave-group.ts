import { LeaveGroupApi } from '../../protocol/messages/index.js';
import { handler } from './handler.js';

/** LeaveGroup 0–5: one member (v0–2) or a batch of members, dynamic or static (v3+). */
export const leaveGroupHandler = handler(LeaveGroupApi, 0, 5, async (ctx, req) => {
  const v = ctx.header.apiVersion;
  if (v < 3) {
    const r = ctx.broker.groups.leave(req.groupId, [{ memberId: req.memberId ?? '', groupInstanceId: null }]);
    return { throttleTimeMs: 0, errorCode: r.errorCode !== 0 ? r.errorCode : (r.members[0]?.errorCode ?? 0) };
  }
  const r = ctx.broker.groups.leave(
    req.groupId,
    (req.members ?? []).map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId })),
  );
  return { throttleTimeMs: 0, errorCode: r.errorCode, members: r.members };
});
