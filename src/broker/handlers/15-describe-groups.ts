import { ErrorCode } from '../../protocol/error-codes.js';
import { DescribeGroupsApi } from '../../protocol/messages/index.js';
import { handler } from './handler.js';

/** Kafka's "not requested" value for authorized operations. */
const OPERATIONS_NOT_REQUESTED = -2147483648;
/** READ (3), DELETE (6) and DESCRIBE (8): what anyone may do to a group without an authorizer. */
const GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);

/**
 * DescribeGroups 0–5. An unknown group is described as Dead with no error, as Kafka does
 * before v6; members' metadata and assignments are given once the group is stable.
 */
export const describeGroupsHandler = handler(DescribeGroupsApi, 0, 5, async (ctx, req) => ({
  throttleTimeMs: 0,
  groups: req.groups.map((groupId) => {
    const d = ctx.broker.groups.describe(groupId);
    return {
      errorCode: groupId === '' ? ErrorCode.INVALID_GROUP_ID : ErrorCode.NONE,
      groupId,
      groupState: d.state,
      protocolType: d.protocolType,
      protocolData: d.protocolName,
      members: d.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        memberMetadata: m.metadata,
        memberAssignment: m.assignment,
      })),
      authorizedOperations: req.includeAuthorizedOperations === true ? GROUP_OPERATIONS : OPERATIONS_NOT_REQUESTED,
    };
  }),
}));
