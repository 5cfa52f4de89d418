/**
 * Resource checks shared by DescribeConfigs, AlterConfigs and IncrementalAlterConfigs, with
 * Kafka's codes and messages (ConfigHelper, ConfigAdminManager, ControllerConfigurationValidator).
 */
import { ErrorCode } from '../../protocol/error-codes.js';
import type { Broker } from '../broker.js';
import { topicNameProblem } from '../topic-config.js';
import type { TopicError } from '../topic-manager.js';
import type { TopicInfo } from '../topic-registry.js';

export function isTopicError(x: unknown): x is TopicError {
  return typeof x === 'object' && x !== null && 'errorCode' in x;
}

/** The topic a TOPIC resource names, or why it cannot be used. */
export function topicResource(broker: Broker, name: string, forAlter: boolean): TopicInfo | TopicError {
  if (forAlter && name === '') return { errorCode: ErrorCode.INVALID_REQUEST, message: 'Default topic resources are not allowed.' };
  const problem = topicNameProblem(name);
  if (problem !== null) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, message: problem };
  const t = broker.registry.get(name);
  if (t === undefined) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `The topic '${name}' does not exist.` };
  return t;
}

/**
 * Checks the name of a BROKER resource: "" (the cluster-wide default) or this node's id.
 * Returns null when it is acceptable.
 */
export function brokerResourceProblem(broker: Broker, name: string): TopicError | null {
  if (name === '') return null;
  if (!/^[+-]?\d+$/.test(name)) return { errorCode: ErrorCode.INVALID_REQUEST, message: `Broker id must be an integer, but it is: ${name}` };
  if (Number(name) !== broker.config.nodeId) {
    return { errorCode: ErrorCode.INVALID_REQUEST, message: `Unexpected broker id, expected ${broker.config.nodeId} or empty string, but received ${name}` };
  }
  return null;
}

/** The answer to an AlterConfigs or IncrementalAlterConfigs on a BROKER resource. */
export const STATIC_BROKER_CONFIGS: TopicError = {
  errorCode: ErrorCode.INVALID_REQUEST,
  message:
    'Ferry has no dynamic broker configs: broker settings are static. Set them in the config file (--config), ' +
    'the environment (FERRY_*) or on the command line, and restart the broker.',
};

/** Indexes of resources that appear more than once (same type and name). */
export function duplicateResources(resources: ReadonlyArray<{ resourceType: number; resourceName: string }>): Set<number> {
  const first = new Map<string, number>();
  const dup = new Set<number>();
  resources.forEach((r, i) => {
    const key = `${r.resourceType}\u0000${r.resourceName}`;
    const at = first.get(key);
    if (at === undefined) first.set(key, i);
    else {
      dup.add(at);
      dup.add(i);
    }
  });
  return dup;
}

export const DUPLICATE_RESOURCE: TopicError = { errorCode: ErrorCode.INVALID_REQUEST, message: 'Each resource must appear at most once.' };

/**
 * Answers each resource of an AlterConfigs-style request: a resource named twice gets
 * INVALID_REQUEST without being changed, every other one the outcome of `alterOne`.
 */
export async function alterEachResource<R extends { resourceType: number; resourceName: string }>(
  resources: readonly R[],
  alterOne: (resource: R) => Promise<TopicError | null>,
): Promise<Array<{ resourceType: number; resourceName: string; errorCode: number; errorMessage: string | null }>> {
  const duplicates = duplicateResources(resources);
  const responses = [];
  for (const [i, res] of resources.entries()) {
    const problem = duplicates.has(i) ? DUPLICATE_RESOURCE : await alterOne(res);
    responses.push({
      resourceType: res.resourceType,
      resourceName: res.resourceName,
      errorCode: problem?.errorCode ?? ErrorCode.NONE,
      errorMessage: problem?.message ?? null,
    });
  }
  return responses;
}
