// kafka-python 2.0.2 (Debian python3-kafka) against a Ferry broker process, through
// py/kafka_python_driver.py. Consumers are group-less: KafkaConsumer(group_id=None) + assign().
// snappy, lz4 and zstd need Python modules kafka-python imports lazily (python3-snappy,
// python3-lz4, python3-zstandard); the codecs whose module is missing are reported, not tested.
import type { CodecName } from './harness.js';
import { PythonClient } from './python-client.js';
import { defineClientSuite } from './suite.js';

const CODEC_PACKAGES: Record<Exclude<CodecName, 'none'>, string> = {
  gzip: 'the standard library (zlib)',
  snappy: 'python3-snappy',
  lz4: 'python3-lz4',
  zstd: 'python3-zstandard',
};

defineClientSuite(
  new PythonClient({
    name: 'kafka-python',
    id: 'kafka-python',
    script: 'kafka_python_driver.py',
    caps: {
      fixedHeaders: null,
      // KafkaProducer.send() asserts every header value is bytes (kafka/producer/kafka.py);
      // it decodes null ones.
      nullHeaderValues: false,
      emptyValues: true,
      explicitTimestamps: true,
      createTopics: 'admin',
      tooLarge: /MessageSizeTooLargeError|"errno":\s*10\b/,
      alreadyExists: /TopicAlreadyExistsError|"errno":\s*36\b/,
    },
    compressionConfig: (codec) => ({ compression_type: codec }),
    async versionLines(hello, driver) {
      const info = await driver.request<{ api_version: number[] }>('info', {});
      return [
        `kafka-python ${String(hello['version'])} (Python ${String(hello['python'])})`,
        `kafka-python inferred broker version ${info.api_version.join('.')} from ApiVersions`,
      ];
    },
    async codecs(driver) {
      const have = await driver.request<Record<string, boolean>>('codecs', {});
      const tested: CodecName[] = [];
      const notes: string[] = [];
      for (const [codec, pkg] of Object.entries(CODEC_PACKAGES) as Array<[Exclude<CodecName, 'none'>, string]>) {
        if (have[codec] === true) tested.push(codec);
        else notes.push(`kafka-python: ${codec} NOT tested: its Python module is not installed (${pkg}; scripts/install-test-clients.sh installs it)`);
      }
      return { tested, notes };
    },
  }),
);
