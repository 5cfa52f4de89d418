import type { RequestContext } from '../broker.js';

/** The client's address as Kafka reports it in DescribeGroups (Java's InetAddress form). */
export function clientHostOf(ctx: RequestContext): string {
  const remote = ctx.connection.remote;
  const colon = remote.lastIndexOf(':');
  return `/${colon > 0 ? remote.slice(0, colon) : remote}`;
}
