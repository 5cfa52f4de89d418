/**
 * Config entries as DescribeConfigs (and CreateTopics v5+) report them: a topic's settings
 * with their effective values and where each comes from, and the broker's own settings.
 *
 * Sources and synonyms follow Kafka's ConfigHelper: a topic setting overridden on the topic
 * is DYNAMIC_TOPIC_CONFIG, with the broker setting it would otherwise come from listed after
 * it as a synonym; otherwise its source is that of the broker setting behind it:
 * STATIC_BROKER_CONFIG when the operator set it (file, environment, command line, code),
 * DEFAULT_CONFIG when left at its default. Ferry has no dynamic broker configs.
 *
 * One deliberate difference: for topic settings backed by a family of broker settings
 * (retention.ms ← log.retention.ms / .minutes / .hours, segment.ms ← log.roll.ms / .hours)
 * Kafka drops every synonym before the first-named one, so a broker with only
 * log.retention.hours set reports retention.ms as DEFAULT_CONFIG with no synonyms. Ferry
 * reports the member that supplies the value (e.g. log.retention.hours, STATIC_BROKER_CONFIG).
 */
import { BROKER_SETTINGS, type BrokerConfig, type BrokerSettingName } from './broker-config.js';
import { TOPIC_SETTINGS, topicSettingDefault } from './topic-config.js';

/** DescribeConfigs config sources (Kafka's DescribeConfigsResponse.ConfigSource). */
export const ConfigSource = {
  UNKNOWN: 0,
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
  DYNAMIC_BROKER_LOGGER_CONFIG: 6,
} as const;

/** DescribeConfigs v3+ config types (Kafka's DescribeConfigsResponse.ConfigType). */
export const ConfigType = {
  UNKNOWN: 0,
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  SHORT: 4,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
  CLASS: 8,
  PASSWORD: 9,
} as const;

/** Config resource types (Kafka's ConfigResource.Type). */
export const ResourceType = {
  UNKNOWN: 0,
  TOPIC: 2,
  BROKER: 4,
  BROKER_LOGGER: 8,
  CLIENT_METRICS: 16,
  GROUP: 32,
} as const;

export interface ConfigSynonym {
  name: string;
  value: string | null;
  source: number;
}

export interface ConfigEntry {
  name: string;
  value: string | null;
  readOnly: boolean;
  source: number;
  isSensitive: boolean;
  /** Where the value comes from, the winning source first. */
  synonyms: ConfigSynonym[];
  configType: number;
  documentation: string;
}

const TOPIC_KIND_TYPES: Record<string, number> = {
  int: ConfigType.INT,
  long: ConfigType.LONG,
  string: ConfigType.STRING,
  list: ConfigType.LIST,
  boolean: ConfigType.BOOLEAN,
  double: ConfigType.DOUBLE,
};

const BROKER_KIND_TYPES: Record<string, number> = {
  int: ConfigType.INT,
  long: ConfigType.LONG,
  bool: ConfigType.BOOLEAN,
  string: ConfigType.STRING,
  list: ConfigType.LIST,
};

/** Broker settings that stand in for one another (Kafka's DynamicBrokerConfig.brokerConfigSynonyms). */
const BROKER_FAMILIES: ReadonlyArray<readonly BrokerSettingName[]> = [
  ['log.retention.ms', 'log.retention.minutes', 'log.retention.hours'],
  ['log.roll.ms', 'log.roll.hours'],
];

function familyOf(name: BrokerSettingName): readonly BrokerSettingName[] {
  return BROKER_FAMILIES.find((f) => f.includes(name)) ?? [name];
}

function isBrokerSetting(name: string): name is BrokerSettingName {
  return Object.hasOwn(BROKER_SETTINGS, name);
}

/**
 * The broker-level synonyms of a family: operator-set values first (STATIC_BROKER_CONFIG),
 * then defaults that have a value (DEFAULT_CONFIG), as Kafka's ConfigHelper.configSynonyms.
 */
function brokerSynonyms(config: BrokerConfig, names: readonly BrokerSettingName[]): ConfigSynonym[] {
  const out: ConfigSynonym[] = [];
  for (const n of names) {
    const v = config.settings[n];
    if (config.explicitSettings.has(n) && v !== null) out.push({ name: n, value: v, source: ConfigSource.STATIC_BROKER_CONFIG });
  }
  for (const n of names) {
    const d = BROKER_SETTINGS[n].default;
    if (d !== null) out.push({ name: n, value: d, source: ConfigSource.DEFAULT_CONFIG });
  }
  return out;
}

/** Every topic-level setting of a topic with the given overrides, in name order. */
export function topicConfigEntries(config: BrokerConfig, overrides: Readonly<Record<string, string>>): ConfigEntry[] {
  return Object.keys(TOPIC_SETTINGS)
    .sort()
    .map((name) => {
      const s = TOPIC_SETTINGS[name]!;
      const synonyms: ConfigSynonym[] = [];
      const override = Object.hasOwn(overrides, name) ? overrides[name]! : undefined;
      if (override !== undefined) synonyms.push({ name, value: override, source: ConfigSource.DYNAMIC_TOPIC_CONFIG });
      if (s.brokerSynonym !== null && isBrokerSetting(s.brokerSynonym)) synonyms.push(...brokerSynonyms(config, familyOf(s.brokerSynonym)));
      return {
        name,
        value: override ?? topicSettingDefault(name, config.topicDefaults),
        readOnly: false,
        source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG,
        isSensitive: false,
        synonyms,
        configType: TOPIC_KIND_TYPES[s.kind] ?? ConfigType.UNKNOWN,
        documentation: s.doc,
      };
    });
}

/**
 * Every broker setting of this node, in name order: its own value (null when unset), all
 * read-only (no dynamic broker configs). Synonyms start at the setting itself, as in Kafka.
 */
export function brokerConfigEntries(config: BrokerConfig): ConfigEntry[] {
  return (Object.keys(BROKER_SETTINGS) as BrokerSettingName[]).sort().map((name) => {
    const all = brokerSynonyms(config, familyOf(name));
    const first = all.findIndex((s) => s.name === name);
    const synonyms = first < 0 ? [] : all.slice(first);
    return {
      name,
      value: config.settings[name],
      readOnly: true,
      source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG,
      isSensitive: false,
      synonyms,
      configType: BROKER_KIND_TYPES[BROKER_SETTINGS[name].kind] ?? ConfigType.UNKNOWN,
      documentation: BROKER_SETTINGS[name].doc,
    };
  });
}
