import { ErrorCode } from '../../protocol/error-codes.js';
import {
  DescribeConfigsApi,
  type DescribeConfigsResponseDescribeConfigsResourceResult,
  type DescribeConfigsResponseDescribeConfigsResult,
} from '../../protocol/messages/index.js';
import { type ConfigEntry, ConfigSource, ResourceType, brokerConfigEntries, topicConfigEntries } from '../config-entries.js';
import { brokerResourceProblem, isTopicError, topicResource } from './config-resources.js';
import { handler } from './handler.js';

/**
 * DescribeConfigs 0–4 for TOPIC (2) and BROKER (4) resources. A topic lists every topic-level
 * setting with its effective value and source (DYNAMIC_TOPIC_CONFIG for an override, else the
 * source of the broker setting behind it); a broker named by this node's id lists every broker
 * setting, read-only; the default broker resource ("") lists the cluster-wide dynamic
 * defaults, of which Ferry has none. configuration_keys null or empty = all (as Kafka); unknown keys are left out.
 * v0 carries is_default instead of config_source; synonyms (v1+) only when asked for; config
 * type (v3+) always, documentation (v3+) only when asked for. Other resource types get
 * INVALID_REQUEST.
 */
export const describeConfigsHandler = handler(DescribeConfigsApi, 0, 4, async (ctx, req) => {
  const { broker, header } = ctx;
  const v = header.apiVersion;
  const includeSynonyms = v >= 1 && req.includeSynonyms === true;
  const includeDocumentation = v >= 3 && req.includeDocumentation === true;

  const toResult = (e: ConfigEntry): DescribeConfigsResponseDescribeConfigsResourceResult => {
    const r: DescribeConfigsResponseDescribeConfigsResourceResult = {
      name: e.name,
      value: e.isSensitive ? null : e.value,
      readOnly: e.readOnly,
      isSensitive: e.isSensitive,
    };
    if (v === 0) r.isDefault = e.source === ConfigSource.DEFAULT_CONFIG;
    else {
      r.configSource = e.source;
      r.synonyms = includeSynonyms ? e.synonyms.map((s) => ({ name: s.name, value: e.isSensitive ? null : s.value, source: s.source })) : [];
    }
    if (v >= 3) {
      r.configType = e.configType;
      r.documentation = includeDocumentation ? e.documentation : null;
    }
    return r;
  };

  const results: DescribeConfigsResponseDescribeConfigsResult[] = req.resources.map((res) => {
    const base = { resourceType: res.resourceType, resourceName: res.resourceName };
    const failed = (errorCode: number, errorMessage: string): DescribeConfigsResponseDescribeConfigsResult => ({ ...base, errorCode, errorMessage, configs: [] });
    let entries: ConfigEntry[];
    if (res.resourceType === ResourceType.TOPIC) {
      const t = topicResource(broker, res.resourceName, false);
      if (isTopicError(t)) return failed(t.errorCode, t.message);
      entries = topicConfigEntries(broker.config, t.configs);
    } else if (res.resourceType === ResourceType.BROKER) {
      const problem = brokerResourceProblem(broker, res.resourceName);
      if (problem !== null) return failed(problem.errorCode, problem.message);
      entries = res.resourceName === '' ? [] : brokerConfigEntries(broker.config);
    } else {
      return failed(ErrorCode.INVALID_REQUEST, `Unsupported resource type: ${res.resourceType}`);
    }
    const keys = res.configurationKeys === null || res.configurationKeys.length === 0 ? null : new Set(res.configurationKeys);
    const configs = entries.filter((e) => keys === null || keys.has(e.name)).map(toResult);
    return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs };
  });
  return { throttleTimeMs: 0, results };
});
