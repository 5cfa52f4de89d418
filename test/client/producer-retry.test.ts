/**
 * The producer's ordering when pipelined batches fail: the broker's Produce handler is wrapped
 * (in this test process only) to answer NOT_LEADER_OR_FOLLOWER, as a broker that just lost
 * leadership does, to every Produce request from some point until the client refreshes its
 * metadata. Several batches of the partition are in flight when that starts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ApiHandler } from '../../src/broker/handlers/handler.js';
import { HANDLERS } from '../../src/broker/handlers/index.js';
import { Consumer } from '../../src/client/consumer.js';
import { Producer } from '../../src/client/producer.js';
import { stringSerde } from '../../src/client/serializers.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import { MetadataApi, ProduceApi, type ProduceRequest, type ProduceResponse } from '../../src/protocol/messages/index.js';
import { type TestBroker, startTestBroker, uniqueTopic } from './test-broker.js';

type AnyHandler = ApiHandler<unknown, unknown>;

describe('producer retries with several batches in flight', () => {
  const handlers = HANDLERS as Map<number, AnyHandler>;
  const realProduce = handlers.get(ProduceApi.apiKey)!;
  const realMetadata = handlers.get(MetadataApi.apiKey)!;
  let tb: TestBroker;
  /** Produce requests for the topic under test, counted as they arrive. */
  let produceRequests = 0;
  let failFrom = Infinity;
  let failing = false;
  let failed = 0;
  let topic = '';

  before(async () => {
    handlers.set(ProduceApi.apiKey, {
      ...realProduce,
      handle: async (ctx, body) => {
        const req = body as ProduceRequest;
        if (req.topicData.some((t) => t.name === topic)) {
          produceRequests++;
          if (produceRequests === failFrom) failing = true;
          if (failing) {
            failed++;
            // Answered a little later, so that the requests behind it are in flight meanwhile.
            await new Promise((r) => setTimeout(r, 20));
            const response: ProduceResponse = {
              throttleTimeMs: 0,
              responses: req.topicData.map((t) => ({
                name: t.name,
                partitionResponses: t.partitionData.map((p) => ({
                  index: p.index,
                  errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
                  baseOffset: -1n,
                  logAppendTimeMs: -1n,
                  logStartOffset: -1n,
                  recordErrors: [],
                  errorMessage: null,
                })),
              })),
            };
            return response;
          }
        }
        return realProduce.handle(ctx, body);
      },
    } as AnyHandler);
    handlers.set(MetadataApi.apiKey, {
      ...realMetadata,
      handle: (ctx, body) => {
        // The client looked the leader up again: "leadership" is back.
        failing = false;
        return realMetadata.handle(ctx, body);
      },
    } as AnyHandler);
    tb = await startTestBroker();
  });

  after(async () => {
    handlers.set(ProduceApi.apiKey, realProduce);
    handlers.set(MetadataApi.apiKey, realMetadata);
    await tb.close();
  });

  test('failed in-flight batches are sent again in their order once all of them are back', async () => {
    topic = uniqueTopic('reorder');
    const producer = new Producer({ bootstrapServers: tb.bootstrap, valueSerializer: stringSerde(), batchBytes: 2048, lingerMs: 0, retryBackoffMs: 30, retryBackoffMaxMs: 60 });
    await producer.send({ topic, value: 'first' });
    failFrom = produceRequests + 6;
    const deliveries: Array<Promise<{ offset: bigint }>> = [];
    const pad = 'x'.repeat(400);
    for (let i = 0; i < 400; i++) {
      deliveries.push((await producer.queue({ topic, value: `${i} ${pad}` })).delivered);
      if (i % 40 === 0) await new Promise((r) => setImmediate(r));
    }
    const results = await Promise.all(deliveries);
    await producer.close();
    assert.ok(failed >= 2, `${failed} requests failed: more than one batch was in flight when the failures began`);
    const offsets = results.map((r) => Number(r.offset));
    assert.deepEqual(offsets, Array.from({ length: 400 }, (_, i) => i + 1), 'offsets in the order the records were queued');

    const consumer = new Consumer({ bootstrapServers: tb.bootstrap, valueDeserializer: stringSerde(), fetchMaxWaitMs: 50 });
    consumer.assign([{ topic, partition: 0, offset: 'earliest' }]);
    const values: string[] = [];
    try {
      for await (const m of consumer) {
        values.push(m.value!.split(' ')[0]!);
        if (values.length === 401) break;
      }
    } finally {
      await consumer.close();
    }
    assert.deepEqual(values, ['first', ...Array.from({ length: 400 }, (_, i) => `${i}`)]);
  });
});
