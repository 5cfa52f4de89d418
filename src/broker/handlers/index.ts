import { produceHandler } from './00-produce.js';
import { fetchHandler } from './01-fetch.js';
import { listOffsetsHandler } from './02-list-offsets.js';
import { metadataHandler } from './03-metadata.js';
import { offsetCommitHandler } from './08-offset-commit.js';
import { offsetFetchHandler } from './09-offset-fetch.js';
import { findCoordinatorHandler } from './10-find-coordinator.js';
import { joinGroupHandler } from './11-join-group.js';
import { heartbeatHandler } from './12-heartbeat.js';
import { leaveGroupHandler } from './13-leave-group.js';
import { syncGroupHandler } from './14-sync-group.js';
import { describeGroupsHandler } from './15-describe-groups.js';
import { listGroupsHandler } from './16-list-groups.js';
import { apiVersionsHandler } from './18-api-versions.js';
import { createTopicsHandler } from './19-create-topics.js';
import { deleteTopicsHandler } from './20-delete-topics.js';
import { deleteRecordsHandler } from './21-delete-records.js';
import { deleteGroupsHandler } from './42-delete-groups.js';
import { offsetDeleteHandler } from './47-offset-delete.js';
import { describeConfigsHandler } from './32-describe-configs.js';
import { alterConfigsHandler } from './33-alter-configs.js';
import { createPartitionsHandler } from './37-create-partitions.js';
import { incrementalAlterConfigsHandler } from './44-incremental-alter-configs.js';
import { describeClusterHandler } from './60-describe-cluster.js';
import type { ApiHandler } from './handler.js';

/** The APIs this broker serves, by API key. */
export const HANDLERS: ReadonlyMap<number, ApiHandler<unknown, unknown>> = new Map(
  (
    [
      produceHandler,
      fetchHandler,
      listOffsetsHandler,
      metadataHandler,
      offsetCommitHandler,
      offsetFetchHandler,
      findCoordinatorHandler,
      joinGroupHandler,
      heartbeatHandler,
      leaveGroupHandler,
      syncGroupHandler,
      describeGroupsHandler,
      listGroupsHandler,
      apiVersionsHandler,
      createTopicsHandler,
      deleteTopicsHandler,
      deleteRecordsHandler,
      describeConfigsHandler,
      alterConfigsHandler,
      createPartitionsHandler,
      deleteGroupsHandler,
      incrementalAlterConfigsHandler,
      offsetDeleteHandler,
      describeClusterHandler,
    ] as Array<ApiHandler<never, unknown>>
  ).map((h) => [h.api.apiKey, h as unknown as ApiHandler<unknown, unknown>]),
);
