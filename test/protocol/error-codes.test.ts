import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERRORS, ErrorCode, type ErrorCodeName, errorName, isRetriable } from '../../src/protocol/error-codes.js';

const names = Object.keys(ErrorCode) as ErrorCodeName[];
const codes = names.map((n) => ErrorCode[n]);

test('error codes: codes and names are unique', () => {
  assert.equal(new Set(codes).size, codes.length);
  assert.equal(new Set(names).size, names.length);
  const tableNames = [...ERRORS.values()].map((e) => e.name);
  assert.equal(new Set(tableNames).size, tableNames.length);
});

test('error codes: ERRORS agrees with ErrorCode and is keyed by code', () => {
  assert.equal(ERRORS.size, names.length);
  for (const name of names) {
    const info = ERRORS.get(ErrorCode[name]);
    assert.ok(info, name);
    assert.equal(info.name, name);
    assert.equal(info.code, ErrorCode[name]);
    assert.equal(typeof info.retriable, 'boolean');
    assert.ok(info.message.length > 0, `${name} has a message`);
  }
  for (const [code, info] of ERRORS) assert.equal(info.code, code);
});

test('error codes: contiguous from -1 to the highest code (as in Kafka 4.4)', () => {
  const max = Math.max(...codes);
  assert.equal(Math.min(...codes), -1);
  assert.equal(max, 136);
  assert.equal(errorName(max), 'CONTROLLER_ID_NOT_REGISTERED');
  for (let c = -1; c <= max; c++) assert.ok(ERRORS.has(c), `code ${c} present`);
  assert.equal(ERRORS.size, max + 2);
  assert.deepEqual([...ERRORS.keys()], [...ERRORS.keys()].sort((a, b) => a - b));
});

test('error codes: spot checks of well-known codes and retriable flags', () => {
  const expected: Array<[ErrorCodeName, number, boolean]> = [
    ['UNKNOWN_SERVER_ERROR', -1, false],
    ['NONE', 0, false],
    ['OFFSET_OUT_OF_RANGE', 1, false],
    ['UNKNOWN_TOPIC_OR_PARTITION', 3, true],
    ['NOT_LEADER_OR_FOLLOWER', 6, true],
    ['REQUEST_TIMED_OUT', 7, true],
    ['NOT_COORDINATOR', 16, true],
    ['REBALANCE_IN_PROGRESS', 27, false],
    ['UNSUPPORTED_VERSION', 35, false],
    ['NOT_CONTROLLER', 41, true],
    ['OUT_OF_ORDER_SEQUENCE_NUMBER', 45, false],
    ['DUPLICATE_SEQUENCE_NUMBER', 46, false],
    ['INVALID_PRODUCER_EPOCH', 47, false],
    ['CONCURRENT_TRANSACTIONS', 51, true],
    ['UNKNOWN_PRODUCER_ID', 59, false],
    ['FENCED_LEADER_EPOCH', 74, true],
    ['UNKNOWN_LEADER_EPOCH', 75, true],
    ['MEMBER_ID_REQUIRED', 79, false],
    ['PRODUCER_FENCED', 90, false],
    ['UNKNOWN_TOPIC_ID', 100, true],
    ['TRANSACTION_ABORTABLE', 120, false],
  ];
  for (const [name, code, retriable] of expected) {
    assert.equal(ErrorCode[name], code, name);
    assert.equal(errorName(code), name);
    assert.equal(isRetriable(code), retriable, `${name} retriable`);
  }
});

test('error codes: the retriable set is exactly the one in Kafka 4.4 table', () => {
  const retriable = [...ERRORS.values()].filter((e) => e.retriable).map((e) => e.code);
  assert.deepEqual(retriable, [
    2, 3, 5, 6, 7, 9, 13, 14, 15, 16, 19, 20, 41, 51, 56, 70, 71, 72, 74, 75, 78, 80, 83, 84, 88, 89, 100, 103, 106,
    122, 123, 133,
  ]);
});

test('error codes: unknown codes', () => {
  assert.equal(errorName(137), 'UNKNOWN_ERROR_CODE_137');
  assert.equal(errorName(-2), 'UNKNOWN_ERROR_CODE_-2');
  assert.equal(errorName(32767), 'UNKNOWN_ERROR_CODE_32767');
  assert.equal(isRetriable(137), false);
  assert.equal(isRetriable(-2), false);
});
