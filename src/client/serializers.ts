/**
 * Serializers turn application keys and values into the bytes of a record, deserializers the
 * other way. Null stays null both ways, because a null value is a tombstone in Kafka and a
 * null key means "no key" to the partitioner; only the JSON serde could tell them apart
 * otherwise, and it does not, to keep that meaning.
 */
export interface Serializer<T> {
  serialize(data: T, topic: string): Buffer | null;
}

export interface Deserializer<T> {
  deserialize(data: Buffer | null, topic: string): T;
}

export interface Serde<T> extends Serializer<T>, Deserializer<T> {}

/** Raw bytes; strings are accepted on the way in (as UTF-8) for convenience. */
export function bytesSerde(): Serde<Buffer | null> & Serializer<Buffer | string | null | undefined> {
  return {
    serialize: (data: Buffer | string | null | undefined) => (data === null || data === undefined ? null : typeof data === 'string' ? Buffer.from(data, 'utf8') : data),
    deserialize: (data) => data,
  };
}

/** UTF-8 strings. */
export function stringSerde(): Serde<string | null> & Serializer<string | null | undefined> {
  return {
    serialize: (data: string | null | undefined) => (data === null || data === undefined ? null : Buffer.from(data, 'utf8')),
    deserialize: (data) => (data === null ? null : data.toString('utf8')),
  };
}

/** JSON text in UTF-8. Deserializing bytes that are not JSON throws a SyntaxError naming the topic. */
export function jsonSerde<T>(): Serde<T | null> & Serializer<T | null | undefined> {
  return {
    serialize: (data: T | null | undefined) => (data === null || data === undefined ? null : Buffer.from(JSON.stringify(data), 'utf8')),
    deserialize: (data, topic) => {
      if (data === null) return null;
      try {
        return JSON.parse(data.toString('utf8')) as T;
      } catch (error) {
        throw new SyntaxError(`a record of topic ${topic} is not JSON: ${(error as Error).message}`, { cause: error });
      }
    },
  };
}
