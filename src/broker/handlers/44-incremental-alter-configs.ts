import { ErrorCode } from '../../protocol/error-codes.js';
import { IncrementalAlterConfigsApi } from '../../protocol/messages/index.js';
import { ResourceType } from '../config-entries.js';
import { TOPIC_SETTINGS, topicSettingDefault, validateTopicSetting } from '../topic-config.js';
import type { TopicError } from '../topic-manager.js';
import { STATIC_BROKER_CONFIGS, alterEachResource, brokerResourceProblem, isTopicError, topicResource } from './config-resources.js';
import { handler } from './handler.js';

const SET = 0;
const DELETE = 1;
const APPEND = 2;
const SUBTRACT = 3;
const OP_NAMES = ['SET', 'DELETE', 'APPEND', 'SUBTRACT'];

/**
 * IncrementalAlterConfigs 0–1: changes some of a topic's overrides. SET (0) sets one
 * (validated: INVALID_CONFIG with the reason), DELETE (1) removes one so the broker default
 * applies again, APPEND (2) / SUBTRACT (3) add or remove items of a list setting
 * (cleanup.policy), starting from its effective value when it has no override; on other
 * settings they are INVALID_CONFIG. A null value (except for DELETE), an unknown operation,
 * a key named twice in one resource or a resource named twice is INVALID_REQUEST.
 * validate_only checks without changing anything. Only TOPIC resources can change: broker
 * settings are static in Ferry, so BROKER resources get INVALID_REQUEST, as do other types.
 */
export const incrementalAlterConfigsHandler = handler(IncrementalAlterConfigsApi, 0, 1, async (ctx, req) => {
  const { broker } = ctx;
  return { throttleTimeMs: 0, responses: await alterEachResource(req.resources, alterOne) };

  async function alterOne(res: (typeof req.resources)[number]): Promise<TopicError | null> {
    const nulls = res.configs.filter((c) => c.configOperation !== DELETE && c.value === null).map((c) => c.name);
    if (nulls.length > 0) return { errorCode: ErrorCode.INVALID_REQUEST, message: `Null value not supported for : ${nulls.join(', ')}` };
    const badOp = res.configs.find((c) => c.configOperation < SET || c.configOperation > SUBTRACT);
    if (badOp !== undefined) return { errorCode: ErrorCode.INVALID_REQUEST, message: `Unknown operation type ${badOp.configOperation}` };
    if (res.resourceType === ResourceType.BROKER) return brokerResourceProblem(broker, res.resourceName) ?? STATIC_BROKER_CONFIGS;
    if (res.resourceType !== ResourceType.TOPIC) return { errorCode: ErrorCode.INVALID_REQUEST, message: `Unknown resource type ${res.resourceType}` };
    const t = topicResource(broker, res.resourceName, true);
    if (isTopicError(t)) return t;
    const names = new Set<string>();
    for (const c of res.configs) {
      if (names.has(c.name)) return { errorCode: ErrorCode.INVALID_REQUEST, message: 'Error due to duplicate config keys' };
      names.add(c.name);
    }

    const configs: Record<string, string> = { ...t.configs };
    for (const c of res.configs) {
      if (c.configOperation === DELETE) {
        delete configs[c.name];
        continue;
      }
      let value = c.value!;
      if (c.configOperation === APPEND || c.configOperation === SUBTRACT) {
        const setting = TOPIC_SETTINGS[c.name];
        if (setting === undefined) return { errorCode: ErrorCode.INVALID_CONFIG, message: `Unknown topic config name: ${c.name}` };
        if (setting.kind !== 'list') {
          return { errorCode: ErrorCode.INVALID_CONFIG, message: `Can't ${OP_NAMES[c.configOperation]} to key ${c.name} because its type is not LIST.` };
        }
        const split = (s: string): string[] => s.split(',').map((x) => x.trim()).filter((x) => x !== '');
        const items = split(configs[c.name] ?? topicSettingDefault(c.name, broker.config.topicDefaults));
        for (const item of split(value)) {
          if (c.configOperation === APPEND) {
            if (!items.includes(item)) items.push(item);
          } else {
            const at = items.indexOf(item);
            if (at >= 0) items.splice(at, 1);
          }
        }
        value = items.join(',');
      }
      const checked = validateTopicSetting(c.name, value);
      if ('errorCode' in checked) return checked;
      configs[c.name] = checked.value;
    }
    if (!req.validateOnly) await broker.topics.setConfigs(t.name, configs);
    return null;
  }
});
