"""kafka-python driver for the compatibility suite (protocol: see driver_common.py).

Usage: /usr/bin/python3 kafka_python_driver.py BOOTSTRAP

Consumers are group-less (group_id=None) with explicit partition assignment: the broker has
no consumer groups yet.
"""
import json
import logging
import sys
import time

from driver_common import b64, not_installed, serve, unb64

try:
    import kafka
    import kafka.codec as kcodec
    import kafka.errors as kerrors
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic
except Exception as e:  # missing package
    not_installed("kafka-python (Debian package python3-kafka)", e)

logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="kafka-python %(levelname)s %(name)s: %(message)s")

BOOTSTRAP = sys.argv[1]
COMMON = {"bootstrap_servers": BOOTSTRAP, "request_timeout_ms": 30000, "api_version_auto_timeout_ms": 10000}

_admin = None
_producers = {}
_consumers = {}
_util_consumer = None


def admin():
    global _admin
    if _admin is None:
        _admin = KafkaAdminClient(client_id="ferry-compat-admin", **COMMON)
    return _admin


def util_consumer():
    global _util_consumer
    if _util_consumer is None:
        _util_consumer = KafkaConsumer(group_id=None, enable_auto_commit=False, client_id="ferry-compat-util", **COMMON)
    return _util_consumer


def producer(config):
    key = json.dumps(config, sort_keys=True)
    p = _producers.get(key)
    if p is None:
        p = KafkaProducer(client_id="ferry-compat-producer", **dict(COMMON, **config))
        _producers[key] = p
    return p


def describe_error(e):
    return {
        "type": type(e).__name__,
        "message": str(e),
        "errno": getattr(e, "errno", None),
        "retriable": getattr(e, "retriable", None),
    }


def op_info(_args):
    c = util_consumer()
    return {"api_version": list(c.config["api_version"])}


def op_codecs(_args):
    return {
        "gzip": bool(kcodec.has_gzip()),
        "snappy": bool(kcodec.has_snappy()),
        "lz4": bool(kcodec.has_lz4()),
        "zstd": bool(kcodec.has_zstd()),
    }


def op_create_topic(args):
    # Raises the broker's error as a kafka-python exception (e.g. TopicAlreadyExistsError).
    resp = admin().create_topics([NewTopic(args["topic"], args["partitions"], 1)], timeout_ms=15000)
    return {"topic_errors": [list(t) for t in resp.topic_errors]}


def op_metadata(args):
    a = admin()
    cluster = a.describe_cluster()
    topics = a.describe_topics([args["topic"]])
    out = {
        "brokers": [{"nodeId": b["node_id"], "host": b["host"], "port": b["port"]} for b in cluster["brokers"]],
        "controllerId": cluster.get("controller_id"),
        "topic": None,
    }
    for t in topics:
        if t["topic"] == args["topic"]:
            out["topic"] = {
                "errorCode": t["error_code"],
                "partitions": [
                    {"partition": p["partition"], "leader": p["leader"], "replicas": list(p["replicas"]), "isr": list(p["isr"]), "errorCode": p["error_code"]}
                    for p in t["partitions"]
                ],
            }
    return out


def op_produce(args):
    p = producer(args.get("config") or {})
    futures = []
    for m in args["messages"]:
        kwargs = {
            "key": unb64(m["key"]),
            "value": unb64(m["value"]),
            "headers": [(h[0], unb64(h[1])) for h in m["headers"]],
        }
        if m.get("partition") is not None:
            kwargs["partition"] = m["partition"]
        if m.get("timestamp") is not None:
            kwargs["timestamp_ms"] = m["timestamp"]
        try:
            futures.append(p.send(args["topic"], **kwargs))
        except Exception as e:  # refused before sending
            futures.append(e)
    p.flush(timeout=60)
    reports = []
    for f in futures:
        if isinstance(f, Exception):
            reports.append({"error": describe_error(f)})
            continue
        try:
            md = f.get(timeout=60)
            reports.append({"partition": md.partition, "offset": md.offset, "timestamp": md.timestamp})
        except Exception as e:
            reports.append({"error": describe_error(e)})
    return {"reports": reports}


def record_json(r):
    return {
        "partition": r.partition,
        "offset": r.offset,
        "key": b64(r.key),
        "value": b64(r.value),
        "headers": [[k, b64(v)] for (k, v) in (r.headers or [])],
        "timestamp": r.timestamp,
    }


def op_consumer_open(args):
    name = args["name"]
    topic = args["topic"]
    c = KafkaConsumer(
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="ferry-compat-consumer",
        fetch_max_wait_ms=200,
        **COMMON
    )
    tps = [TopicPartition(topic, p) for p in args["partitions"]]
    c.assign(tps)
    start = args["start"]
    if start == "earliest":
        c.seek_to_beginning(*tps)
    elif start == "latest":
        c.seek_to_end(*tps)
    elif "offset" in start:
        for tp in tps:
            c.seek(tp, start["offset"])
    elif "timestamp" in start:
        found = c.offsets_for_times({tp: start["timestamp"] for tp in tps})
        for tp in tps:
            if found.get(tp) is None:
                c.seek_to_end(tp)
            else:
                c.seek(tp, found[tp].offset)
    _consumers[name] = (c, topic)
    # position() resolves the start offsets now (ListOffsets), before anything is produced.
    return {"positions": [c.position(tp) for tp in tps]}


def op_consumer_read(args):
    c, topic = _consumers[args["name"]]
    until = {TopicPartition(topic, int(k)): v for k, v in (args.get("until") or {}).items()}
    duration = args.get("duration_ms")
    deadline = time.time() + (duration if duration is not None else args["timeout_ms"]) / 1000.0

    def done():
        return bool(until) and all(c.position(tp) >= off for tp, off in until.items())

    records = []
    while not done():
        remaining = deadline - time.time()
        if remaining <= 0:
            break
        batch = c.poll(timeout_ms=max(1, int(min(remaining, 0.2) * 1000)), max_records=2000)
        for _tp, rs in batch.items():
            for r in rs:
                records.append(record_json(r))
    return {"records": records, "timed_out": bool(until) and not done()}


def op_consumer_close(args):
    entry = _consumers.pop(args["name"], None)
    if entry is not None:
        entry[0].close(autocommit=False)
    return None


def op_offset_for_time(args):
    tp = TopicPartition(args["topic"], args["partition"])
    found = util_consumer().offsets_for_times({tp: args["timestamp"]})
    ot = found.get(tp)
    return None if ot is None else {"offset": ot.offset, "timestamp": ot.timestamp}


def op_watermarks(args):
    tp = TopicPartition(args["topic"], args["partition"])
    c = util_consumer()
    return {"low": c.beginning_offsets([tp])[tp], "high": c.end_offsets([tp])[tp]}


_closed = False


def shutdown():
    global _closed
    if _closed:
        return
    _closed = True
    for c, _topic in list(_consumers.values()):
        c.close(autocommit=False)
    for p in _producers.values():
        p.close(timeout=10)
    if _util_consumer is not None:
        _util_consumer.close(autocommit=False)
    if _admin is not None:
        _admin.close()


serve(
    {
        "info": op_info,
        "codecs": op_codecs,
        "create_topic": op_create_topic,
        "metadata": op_metadata,
        "produce": op_produce,
        "consumer_open": op_consumer_open,
        "consumer_read": op_consumer_read,
        "consumer_close": op_consumer_close,
        "offset_for_time": op_offset_for_time,
        "watermarks": op_watermarks,
    },
    {"client": "kafka-python", "version": kafka.__version__, "python": sys.version.split()[0]},
    describe_error,
    shutdown,
)
