import { ErrorCode } from '../../protocol/error-codes.js';
import { CreateTopicsApi, type CreateTopicsResponseCreatableTopicResult } from '../../protocol/messages/index.js';
import { topicConfigEntries } from '../config-entries.js';
import type { CreateTopicSpec } from '../topic-manager.js';
import { handler } from './handler.js';

const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

/**
 * CreateTopics 0–7. numPartitions / replicationFactor -1 take num.partitions and the default
 * replication factor (1: one node); manual assignments must place every partition on this
 * node alone. Names, counts, replication factors and configs are checked as Kafka does
 * (TopicManager.validateCreate); validate_only (v1+) checks without creating. A name given
 * twice gets one INVALID_REQUEST result and neither entry is created. From v5 a result carries
 * the topic's partition count, replication factor and every config with its source; from v7
 * its id. The request timeout is not used: creation completes before the answer.
 */
export const createTopicsHandler = handler(CreateTopicsApi, 0, 7, async (ctx, req) => {
  const { broker, header } = ctx;
  const v = header.apiVersion;
  const validateOnly = v >= 1 && req.validateOnly === true;

  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const t of req.topics) {
    if (seen.has(t.name)) duplicates.add(t.name);
    seen.add(t.name);
  }

  const result = (name: string, errorCode: number, errorMessage: string | null, created?: { id: string; partitions: number; configs: Record<string, string> }): CreateTopicsResponseCreatableTopicResult => {
    const r: CreateTopicsResponseCreatableTopicResult = { name, errorCode };
    if (v >= 1) r.errorMessage = errorMessage;
    if (v >= 5) {
      r.numPartitions = created?.partitions ?? -1;
      r.replicationFactor = created === undefined ? -1 : 1;
      r.configs =
        created === undefined
          ? []
          : topicConfigEntries(broker.config, created.configs).map((e) => ({
              name: e.name,
              value: e.isSensitive ? null : e.value,
              readOnly: e.readOnly,
              configSource: e.source,
              isSensitive: e.isSensitive,
            }));
    }
    if (v >= 7) r.topicId = created?.id ?? ZERO_UUID;
    return r;
  };

  const topics: CreateTopicsResponseCreatableTopicResult[] = [];
  const answered = new Set<string>();
  for (const t of req.topics) {
    if (duplicates.has(t.name)) {
      if (!answered.has(t.name)) topics.push(result(t.name, ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'));
      answered.add(t.name);
      continue;
    }
    const spec: CreateTopicSpec = {
      name: t.name,
      numPartitions: t.numPartitions,
      replicationFactor: t.replicationFactor,
      assignments: t.assignments,
      configs: t.configs,
    };
    if (validateOnly) {
      const checked = broker.topics.validateCreate(spec);
      if ('errorCode' in checked) topics.push(result(t.name, checked.errorCode, checked.message));
      else topics.push(result(t.name, ErrorCode.NONE, null, { id: ZERO_UUID, partitions: checked.partitions, configs: checked.configs }));
      continue;
    }
    const created = await broker.topics.create(spec);
    if ('errorCode' in created) topics.push(result(t.name, created.errorCode, created.message));
    else topics.push(result(t.name, ErrorCode.NONE, null, created));
  }
  return v >= 2 ? { throttleTimeMs: 0, topics } : { topics };
});
