/**
 * The versions of each API this client can speak. The client sends the highest version that
 * both it and the broker support (the broker's range comes from ApiVersions on connect).
 *
 * The ceilings are where the client's handling stops, not where the codec stops: OffsetCommit
 * and OffsetFetch v10 address topics by id only, which the group code does not do, so they
 * stop at 9. The floors are where record batches (magic 2) start for Produce (v3) and Fetch
 * (v4, which also brings isolation levels), the oldest Kafka versions (0.11) the client
 * supports; every broker since 0.11 serves them.
 */
import type { ApiCodec } from '../protocol/api-codec.js';
import { ApiKey } from '../protocol/messages/index.js';

export interface VersionRange {
  min: number;
  max: number;
}

export const CLIENT_VERSIONS: ReadonlyMap<number, VersionRange> = new Map<number, VersionRange>([
  [ApiKey.Produce, { min: 3, max: 13 }],
  [ApiKey.Fetch, { min: 4, max: 18 }],
  [ApiKey.ListOffsets, { min: 1, max: 11 }],
  [ApiKey.Metadata, { min: 1, max: 13 }],
  [ApiKey.OffsetCommit, { min: 2, max: 9 }],
  [ApiKey.OffsetFetch, { min: 1, max: 9 }],
  [ApiKey.FindCoordinator, { min: 0, max: 6 }],
  [ApiKey.JoinGroup, { min: 0, max: 9 }],
  [ApiKey.Heartbeat, { min: 0, max: 4 }],
  [ApiKey.LeaveGroup, { min: 0, max: 5 }],
  [ApiKey.SyncGroup, { min: 0, max: 5 }],
  [ApiKey.DescribeGroups, { min: 0, max: 6 }],
  [ApiKey.ListGroups, { min: 0, max: 5 }],
  [ApiKey.ApiVersions, { min: 0, max: 4 }],
  [ApiKey.CreateTopics, { min: 0, max: 7 }],
  [ApiKey.DeleteTopics, { min: 0, max: 6 }],
  [ApiKey.DeleteRecords, { min: 0, max: 2 }],
  [ApiKey.DescribeConfigs, { min: 0, max: 4 }],
  [ApiKey.AlterConfigs, { min: 0, max: 2 }],
  [ApiKey.CreatePartitions, { min: 0, max: 3 }],
  [ApiKey.DeleteGroups, { min: 0, max: 3 }],
  [ApiKey.IncrementalAlterConfigs, { min: 0, max: 1 }],
]);

/** The client's range for an API, clipped to what the codec implements. */
export function clientVersionRange(api: ApiCodec<unknown, unknown>): VersionRange {
  const own = CLIENT_VERSIONS.get(api.apiKey) ?? { min: api.minVersion, max: api.maxVersion };
  const codecMax = api.latestVersionUnstable ? api.maxVersion - 1 : api.maxVersion;
  return { min: Math.max(own.min, api.minVersion), max: Math.min(own.max, codecMax) };
}
