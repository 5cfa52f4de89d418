// confluent-kafka-python 1.7.0 on librdkafka 2.0.2 (Debian python3-confluent-kafka) against a
// Ferry broker process, through py/confluent_kafka_driver.py. Consumers use assign() with
// explicit offsets and enable.auto.commit=false; the group.id librdkafka insists on is never
// used with a coordinator.
import { PythonClient } from './python-client.js';
import { defineClientSuite } from './suite.js';

defineClientSuite(
  new PythonClient({
    name: 'confluent-kafka',
    id: 'confluent-kafka',
    script: 'confluent_kafka_driver.py',
    caps: {
      fixedHeaders: null,
      nullHeaderValues: true,
      emptyValues: true,
      explicitTimestamps: true,
      createTopics: 'admin',
      tooLarge: /MSG_SIZE_TOO_LARGE|Broker: Message size too large/,
      alreadyExists: /TOPIC_ALREADY_EXISTS/,
      compressionHint: {
        lz4:
          'librdkafka 2.0.2 enables its LZ4 feature only if the broker advertises FindCoordinator v0 ' +
          '(rdkafka_feature.c: "Feature LZ4: FindCoordinator (0..0) NOT supported by broker"), and otherwise ' +
          'sends lz4 batches uncompressed ("Broker does not support compression type lz4: not compressing batch").',
      },
    },
    compressionConfig: (codec) => ({ 'compression.type': codec }),
    async versionLines(hello) {
      return [`confluent-kafka ${String(hello['version'])} on librdkafka ${String(hello['librdkafka'])} (Python ${String(hello['python'])})`];
    },
    async codecs() {
      // librdkafka 2.0.2 as Debian builds it has all four (builtin.features gzip,snappy,lz4,zstd).
      return { tested: ['gzip', 'snappy', 'lz4', 'zstd'], notes: [] };
    },
  }),
);
