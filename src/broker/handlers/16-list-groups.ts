import { ErrorCode } from '../../protocol/error-codes.js';
import { ListGroupsApi } from '../../protocol/messages/index.js';
import { handler } from './handler.js';

/** ListGroups 0–5: every group, filtered by state (v4+) and type (v5+; all groups here are classic). */
export const listGroupsHandler = handler(ListGroupsApi, 0, 5, async (ctx, req) => {
  const types = (req.typesFilter ?? []).map((t) => t.toLowerCase());
  const groups = types.length > 0 && !types.includes('classic') ? [] : ctx.broker.groups.list(req.statesFilter ?? []);
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    groups: groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state, groupType: 'classic' })),
  };
});
