import { ErrorCode } from '../../protocol/error-codes.js';
import { DescribeClusterApi } from '../../protocol/messages/index.js';
import { AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_OPERATIONS_ALL } from './03-metadata.js';
import { handler } from './handler.js';

const ENDPOINT_BROKERS = 1;
const ENDPOINT_CONTROLLERS = 2;

/**
 * DescribeCluster 0–1: this node (with its advertised host and port) as the only broker and
 * as the controller, the cluster id, and, when asked, the cluster operations a client may do
 * (all: no ACLs). A v1 request for the controllers endpoint gets MISMATCHED_ENDPOINT_TYPE
 * (Ferry is reached as a broker), an unknown endpoint type UNSUPPORTED_ENDPOINT_TYPE, as
 * Kafka's AuthHelper.computeDescribeClusterResponse. v2 (fenced brokers) is not served.
 */
export const describeClusterHandler = handler(DescribeClusterApi, 0, 1, async (ctx, req) => {
  const { broker, header } = ctx;
  const v = header.apiVersion;
  const endpointType = req.endpointType ?? ENDPOINT_BROKERS;
  const failed = (errorCode: number, errorMessage: string) => ({
    throttleTimeMs: 0,
    errorCode,
    errorMessage,
    clusterId: '',
    controllerId: -1,
    brokers: [],
    clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  });
  if (endpointType === ENDPOINT_CONTROLLERS) {
    return failed(v === 0 ? ErrorCode.INVALID_REQUEST : ErrorCode.MISMATCHED_ENDPOINT_TYPE, 'The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER');
  }
  if (endpointType !== ENDPOINT_BROKERS) {
    return failed(v === 0 ? ErrorCode.INVALID_REQUEST : ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, `Unsupported endpoint type ${endpointType}`);
  }
  const { host, port } = broker.advertised;
  const node = broker.config.nodeId;
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    clusterId: broker.registry.clusterId,
    controllerId: node,
    brokers: [{ brokerId: node, host, port, rack: null }],
    clusterAuthorizedOperations: req.includeClusterAuthorizedOperations ? CLUSTER_OPERATIONS_ALL : AUTHORIZED_OPERATIONS_OMITTED,
  };
});
