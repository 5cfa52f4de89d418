import { ErrorCode } from '../../protocol/error-codes.js';
import { AlterConfigsApi } from '../../protocol/messages/index.js';
import { ResourceType } from '../config-entries.js';
import { validateTopicSetting } from '../topic-config.js';
import type { TopicError } from '../topic-manager.js';
import { STATIC_BROKER_CONFIGS, alterEachResource, brokerResourceProblem, isTopicError, topicResource } from './config-resources.js';
import { handler } from './handler.js';

/**
 * AlterConfigs 0–2 (the legacy, non-incremental form): the configs given become a topic's
 * whole set of overrides, every other setting reverting to the broker default. Each value is
 * validated (INVALID_CONFIG with the reason); a null value is INVALID_REQUEST, as Kafka.
 * validate_only checks without changing anything. The new settings reach the topic's open
 * logs at once (TopicManager.setConfigs). Only TOPIC resources can change: broker settings
 * are static in Ferry, so BROKER resources get INVALID_REQUEST, as do other types and a
 * resource named twice.
 */
export const alterConfigsHandler = handler(AlterConfigsApi, 0, 2, async (ctx, req) => {
  const { broker } = ctx;
  return { throttleTimeMs: 0, responses: await alterEachResource(req.resources, alterOne) };

  async function alterOne(res: (typeof req.resources)[number]): Promise<TopicError | null> {
    if (res.resourceType === ResourceType.BROKER) return brokerResourceProblem(broker, res.resourceName) ?? STATIC_BROKER_CONFIGS;
    if (res.resourceType !== ResourceType.TOPIC) return { errorCode: ErrorCode.INVALID_REQUEST, message: `Unknown resource type ${res.resourceType}` };
    const nulls = res.configs.filter((c) => c.value === null).map((c) => c.name);
    if (nulls.length > 0) return { errorCode: ErrorCode.INVALID_REQUEST, message: `Null value not supported for : ${nulls.join(', ')}` };
    const t = topicResource(broker, res.resourceName, true);
    if (isTopicError(t)) return t;
    const configs: Record<string, string> = {};
    for (const c of res.configs) {
      const checked = validateTopicSetting(c.name, c.value);
      if ('errorCode' in checked) return checked;
      configs[c.name] = checked.value;
    }
    if (!req.validateOnly) await broker.topics.setConfigs(t.name, configs);
    return null;
  }
});
