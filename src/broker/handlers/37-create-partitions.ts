import { ErrorCode } from '../../protocol/error-codes.js';
import { CreatePartitionsApi, type CreatePartitionsResponseCreatePartitionsTopicResult } from '../../protocol/messages/index.js';
import { handler } from './handler.js';

/**
 * CreatePartitions 0–3: grows topics to the requested partition count. INVALID_PARTITIONS when
 * the count is not larger than the current one (or above the limit); assignments, if given,
 * need one entry per new partition naming this node alone (else INVALID_REPLICA_ASSIGNMENT).
 * validate_only checks without growing. A name given twice gets one INVALID_REQUEST result
 * and is not grown. New partitions start empty.
 */
export const createPartitionsHandler = handler(CreatePartitionsApi, 0, 3, async (ctx, req) => {
  const { broker } = ctx;
  const counts = new Map<string, number>();
  for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
  const results: CreatePartitionsResponseCreatePartitionsTopicResult[] = [];
  const answered = new Set<string>();
  for (const t of req.topics) {
    if (answered.has(t.name)) continue;
    answered.add(t.name);
    if (counts.get(t.name)! > 1) {
      results.push({ name: t.name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate topic name.' });
      continue;
    }
    const assignments = t.assignments === null ? null : t.assignments.map((a) => a.brokerIds);
    const problem = req.validateOnly ? broker.topics.validateAddPartitions(t.name, t.count, assignments) : await broker.topics.addPartitions(t.name, t.count, assignments);
    results.push(problem === null ? { name: t.name, errorCode: ErrorCode.NONE, errorMessage: null } : { name: t.name, errorCode: problem.errorCode, errorMessage: problem.message });
  }
  return { throttleTimeMs: 0, results };
});
