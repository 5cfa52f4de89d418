import { ErrorCode } from '../../protocol/error-codes.js';
import { DeleteTopicsApi, type DeleteTopicsResponseDeletableTopicResult } from '../../protocol/messages/index.js';
import { OFFSETS_TOPIC } from '../groups/offsets-records.js';
import { handler } from './handler.js';

/**
 * DeleteTopics 0–5 (by name; v6, which names topics by id, is not served). Each topic is
 * unregistered, then its logs are removed. With delete.topic.enable=false every topic gets
 * TOPIC_DELETION_DISABLED, or INVALID_REQUEST before v3 (the code did not exist), as Kafka
 * answers. A name given twice gets one INVALID_REQUEST result and is not deleted; the
 * internal __consumer_offsets cannot be deleted.
 */
export const deleteTopicsHandler = handler(DeleteTopicsApi, 0, 5, async (ctx, req) => {
  const { broker, header } = ctx;
  const v = header.apiVersion;
  const names = req.topicNames ?? [];
  const result = (name: string, errorCode: number, errorMessage: string | null): DeleteTopicsResponseDeletableTopicResult =>
    v >= 5 ? { name, errorCode, errorMessage } : { name, errorCode };

  const responses: DeleteTopicsResponseDeletableTopicResult[] = [];
  if (!broker.config.deleteTopicEnable) {
    const code = v < 3 ? ErrorCode.INVALID_REQUEST : ErrorCode.TOPIC_DELETION_DISABLED;
    for (const name of new Set(names)) responses.push(result(name, code, 'Topic deletion is disabled.'));
    return v >= 1 ? { throttleTimeMs: 0, responses } : { responses };
  }
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  for (const [name, count] of counts) {
    if (count > 1) {
      responses.push(result(name, ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'));
      continue;
    }
    if (name === OFFSETS_TOPIC) {
      // The group coordinator's state lives there; deleting it would silently lose every commit.
      responses.push(result(name, ErrorCode.INVALID_TOPIC_EXCEPTION, `Internal topic ${name} cannot be deleted.`));
      continue;
    }
    const problem = await broker.topics.delete(name);
    // As in Kafka, groups forget the offsets they committed for a deleted topic.
    if (problem === null) await broker.groups.removeOffsetsOfTopic(name);
    responses.push(problem === null ? result(name, ErrorCode.NONE, null) : result(name, problem.errorCode, problem.message));
  }
  return v >= 1 ? { throttleTimeMs: 0, responses } : { responses };
});
