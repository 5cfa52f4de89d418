import type { ApiCodec } from '../../protocol/api-codec.js';
import type { RequestContext } from '../broker.js';

/**
 * One API served by the broker: the versions it serves (advertised by ApiVersions) and a
 * function from the decoded request to the response body. Kafka errors are data: handlers
 * put error codes in responses and do not throw for them. Returning null sends no response
 * (Produce with acks=0).
 */
export interface ApiHandler<Req, Res> {
  api: ApiCodec<Req, Res>;
  minVersion: number;
  maxVersion: number;
  handle(ctx: RequestContext, request: Req): Promise<Res | null>;
}

export function handler<Req, Res>(api: ApiCodec<Req, Res>, minVersion: number, maxVersion: number, handle: ApiHandler<Req, Res>['handle']): ApiHandler<Req, Res> {
  if (minVersion < api.minVersion || maxVersion > api.maxVersion) {
    throw new Error(`${api.name} handler versions ${minVersion}-${maxVersion} exceed the codec's ${api.minVersion}-${api.maxVersion}`);
  }
  return { api, minVersion, maxVersion, handle };
}
