/**
 * The `ferry` package: an embeddable broker for other projects' tests and tools.
 *
 *   import { startBroker } from 'ferry';
 *   const broker = await startBroker({ port: 0, dataDir });
 *   // ... point a Kafka client at 127.0.0.1:broker.port ...
 *   await broker.close();
 */
export { Broker, startBroker } from './broker/broker.js';
export type { RequestContext, StartBrokerOptions } from './broker/broker.js';
export { BROKER_SETTINGS, ConfigError } from './broker/broker-config.js';
export type { BrokerConfig, BrokerSettingName } from './broker/broker-config.js';
