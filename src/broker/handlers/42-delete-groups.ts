import { DeleteGroupsApi } from '../../protocol/messages/index.js';
import { handler } from './handler.js';

/** DeleteGroups 0–2: empty groups only (NON_EMPTY_GROUP otherwise); offsets go with them. */
export const deleteGroupsHandler = handler(DeleteGroupsApi, 0, 2, async (ctx, req) => ({
  throttleTimeMs: 0,
  results: (await ctx.broker.groups.deleteGroups(req.groupsNames)).map((r) => ({ groupId: r.groupId, errorCode: r.errorCode })),
}));
