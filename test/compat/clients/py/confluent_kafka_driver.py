"""confluent-kafka-python driver for the compatibility suite (protocol: see driver_common.py).

Usage: /usr/bin/python3 confluent_kafka_driver.py BOOTSTRAP

Consumers use assign() with explicit offsets and enable.auto.commit=false. librdkafka wants a
group.id for a Consumer, but with assign() and no commits it never needs the group coordinator
(the broker has no consumer groups yet): it only looks one up in the background.
"""
import functools
import json
import sys
import time

from driver_common import b64, not_installed, serve, unb64

try:
    import confluent_kafka
    from confluent_kafka import (OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, KafkaException, Producer,
                                 TopicPartition)
    from confluent_kafka.admin import AdminClient, NewTopic
except Exception as e:  # missing package
    not_installed("confluent-kafka (Debian package python3-confluent-kafka)", e)

BOOTSTRAP = sys.argv[1]
COMMON = {"bootstrap.servers": BOOTSTRAP, "socket.timeout.ms": 30000}

_admin = None
_producers = {}
_consumers = {}
_util_consumer = None


def admin():
    global _admin
    if _admin is None:
        _admin = AdminClient(dict(COMMON, **{"client.id": "ferry-compat-admin"}))
    return _admin


def consumer_config(client_id):
    return dict(
        COMMON,
        **{
            "client.id": client_id,
            "group.id": "ferry-compat-unused",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 100,
        }
    )


def util_consumer():
    global _util_consumer
    if _util_consumer is None:
        _util_consumer = Consumer(consumer_config("ferry-compat-util"))
    return _util_consumer


def producer(config):
    key = json.dumps(config, sort_keys=True)
    p = _producers.get(key)
    if p is None:
        # batch.size: the broker's max.message.bytes (100000 in the suite) limits whole batches.
        conf = dict(COMMON, **{"client.id": "ferry-compat-producer", "message.timeout.ms": 30000, "linger.ms": 5, "batch.size": 65536})
        conf.update(config)
        p = Producer(conf)
        _producers[key] = p
    return p


def kafka_error_json(err):
    return {
        "type": "KafkaError",
        "code": err.code(),
        "name": err.name(),
        "message": err.str(),
        "retriable": err.retriable(),
        "fatal": err.fatal(),
    }


def describe_error(e):
    if isinstance(e, KafkaException) and e.args and isinstance(e.args[0], KafkaError):
        return kafka_error_json(e.args[0])
    return {"type": type(e).__name__, "message": str(e)}


def op_info(_args):
    return {"version": confluent_kafka.version()[0], "librdkafka": confluent_kafka.libversion()[0]}


def op_create_topic(args):
    fs = admin().create_topics(
        [NewTopic(args["topic"], num_partitions=args["partitions"], replication_factor=1)],
        operation_timeout=10,
        request_timeout=15,
    )
    fs[args["topic"]].result(timeout=20)  # raises KafkaException with the broker's error
    return None


def op_metadata(args):
    md = admin().list_topics(topic=args["topic"], timeout=10)
    t = md.topics.get(args["topic"])
    return {
        "brokers": [{"nodeId": b.id, "host": b.host, "port": b.port} for b in md.brokers.values()],
        "controllerId": md.controller_id,
        "topic": None
        if t is None
        else {
            "errorCode": 0 if t.error is None else t.error.code(),
            "partitions": [
                {
                    "partition": p.id,
                    "leader": p.leader,
                    "replicas": list(p.replicas),
                    "isr": list(p.isrs),
                    "errorCode": 0 if p.error is None else p.error.code(),
                }
                for p in t.partitions.values()
            ],
        },
    }


def op_produce(args):
    p = producer(args.get("config") or {})
    reports = [None] * len(args["messages"])

    def delivered(i, err, msg):
        if err is not None:
            reports[i] = {"error": kafka_error_json(err)}
        else:
            reports[i] = {"partition": msg.partition(), "offset": msg.offset(), "timestamp": msg.timestamp()[1]}

    for i, m in enumerate(args["messages"]):
        kwargs = {
            "key": unb64(m["key"]),
            "value": unb64(m["value"]),
            "headers": [(h[0], unb64(h[1])) for h in m["headers"]],
            "on_delivery": functools.partial(delivered, i),
        }
        if m.get("partition") is not None:
            kwargs["partition"] = m["partition"]
        if m.get("timestamp") is not None:
            kwargs["timestamp"] = m["timestamp"]
        while True:
            try:
                p.produce(args["topic"], **kwargs)
                break
            except BufferError:  # local queue full: serve delivery reports, then retry
                p.poll(0.1)
            except KafkaException as e:  # refused locally
                reports[i] = {"error": describe_error(e)}
                break
        p.poll(0)
    left = p.flush(60)
    if left:
        raise RuntimeError("%d messages still undelivered after 60 s" % left)
    return {"reports": reports}


def record_json(m):
    return {
        "partition": m.partition(),
        "offset": m.offset(),
        "key": b64(m.key()),
        "value": b64(m.value()),
        "headers": [[k, b64(v)] for (k, v) in (m.headers() or [])],
        "timestamp": m.timestamp()[1],
    }


class Reader:
    def __init__(self, consumer, topic, partitions):
        self.c = consumer
        self.topic = topic
        self.partitions = partitions
        self.next = {}  # partition -> next offset known to be reached (record or EOF)
        self.pending = []

    def poll_once(self, timeout):
        out = []
        for m in self.c.consume(num_messages=1000, timeout=timeout):
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    self.next[m.partition()] = max(self.next.get(m.partition(), 0), m.offset())
                    continue
                raise KafkaException(err)
            out.append(record_json(m))
            self.next[m.partition()] = max(self.next.get(m.partition(), 0), m.offset() + 1)
        return out


def op_consumer_open(args):
    topic = args["topic"]
    partitions = args["partitions"]
    start = args["start"]
    c = Consumer(consumer_config("ferry-compat-consumer"))
    if start == "earliest":
        offsets = [OFFSET_BEGINNING] * len(partitions)
    elif start == "latest":
        offsets = [OFFSET_END] * len(partitions)
    elif "offset" in start:
        offsets = [start["offset"]] * len(partitions)
    else:  # seek by timestamp: offsets_for_times, then assign there
        found = c.offsets_for_times([TopicPartition(topic, p, start["timestamp"]) for p in partitions], timeout=10)
        offsets = [tp.offset if tp.offset >= 0 else OFFSET_END for tp in sorted(found, key=lambda tp: tp.partition)]
    c.assign([TopicPartition(topic, p, o) for p, o in zip(partitions, offsets)])
    r = Reader(c, topic, partitions)
    _consumers[args["name"]] = r
    positions = None
    if start == "latest":
        # Wait for the end offsets to be resolved (a partition EOF each), so that what is
        # produced next comes after them.
        deadline = time.time() + 20
        while len(r.next) < len(partitions) and time.time() < deadline:
            r.pending.extend(r.poll_once(0.2))
        if len(r.next) < len(partitions):
            raise RuntimeError("no partition EOF within 20 s after assigning at OFFSET_END")
        positions = [r.next[p] for p in partitions]
    return {"positions": positions}


def op_consumer_read(args):
    r = _consumers[args["name"]]
    until = {int(k): v for k, v in (args.get("until") or {}).items()}
    duration = args.get("duration_ms")
    deadline = time.time() + (duration if duration is not None else args["timeout_ms"]) / 1000.0
    records = r.pending
    r.pending = []

    def done():
        return bool(until) and all(off <= 0 or r.next.get(p, -1) >= off for p, off in until.items())

    while not done():
        remaining = deadline - time.time()
        if remaining <= 0:
            break
        records.extend(r.poll_once(min(remaining, 0.2)))
    return {"records": records, "timed_out": bool(until) and not done()}


def op_consumer_close(args):
    r = _consumers.pop(args["name"], None)
    if r is not None:
        r.c.close()
    return None


def op_offset_for_time(args):
    found = util_consumer().offsets_for_times([TopicPartition(args["topic"], args["partition"], args["timestamp"])], timeout=10)
    tp = found[0]
    if tp.error is not None:
        raise KafkaException(tp.error)
    return None if tp.offset < 0 else {"offset": tp.offset}


def op_watermarks(args):
    low, high = util_consumer().get_watermark_offsets(TopicPartition(args["topic"], args["partition"]), timeout=10)
    return {"low": low, "high": high}


_closed = False


def shutdown():
    global _closed
    if _closed:
        return
    _closed = True
    for r in list(_consumers.values()):
        r.c.close()
    for p in _producers.values():
        p.flush(10)
    if _util_consumer is not None:
        _util_consumer.close()


serve(
    {
        "info": op_info,
        "create_topic": op_create_topic,
        "metadata": op_metadata,
        "produce": op_produce,
        "consumer_open": op_consumer_open,
        "consumer_read": op_consumer_read,
        "consumer_close": op_consumer_close,
        "offset_for_time": op_offset_for_time,
        "watermarks": op_watermarks,
    },
    {
        "client": "confluent-kafka",
        "version": confluent_kafka.version()[0],
        "librdkafka": confluent_kafka.libversion()[0],
        "python": sys.version.split()[0],
    },
    describe_error,
    shutdown,
)
