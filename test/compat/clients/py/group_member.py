"""One Python group consumer (kafka-python or confluent-kafka) as a child process, for the
consumer-group compatibility tests (groups-*.compat.ts, through group-members.ts).

Started as `/usr/bin/python3 group_member.py CONFIG` with CONFIG a JSON object:
  client     "confluent-kafka" or "kafka-python"
  bootstrap, topic, group
  config     extra client settings (librdkafka names, or KafkaConsumer keyword arguments;
             kafka-python's "partition_assignment_strategy" is a list of names: "range",
             "roundrobin")
  stats_ms   confluent-kafka only: librdkafka statistics interval (0: none)

It consumes the topic in the group and reports on stdout, one JSON object a line:
  {"e":"ready", "client":…, "version":…, "lib":…}
  {"e":"assign","partitions":[…]} / {"e":"revoke","partitions":[…]} / {"e":"lost",…}
                                   the rebalance callbacks (incremental ones under the
                                   cooperative protocol: only the partitions that change)
  {"e":"m","p":P,"o":O,"k":KEY}    a message processed
  {"e":"c","offsets":{P:O}}        a synchronous commit the broker acknowledged
  {"e":"commit_error","error":…}
  {"e":"cgrp", …}                  confluent-kafka: librdkafka's consumer-group statistics
                                   (state, join_state, rebalance_cnt, …) whenever they change
  {"e":"stopped"}                  after {"cmd":"stop"} on stdin: closed (LeaveGroup sent,
                                   except by a static member, which never sends it)

Processing and commits: the messages of each poll are reported, then their offsets committed
synchronously; partitions being revoked get their processed offsets committed in the revoke
callback, so a rebalance redelivers nothing.
"""
import json
import os
import queue
import sys
import threading
import traceback

# Keep the real stdout for the events; everything else written to fd 1 goes to stderr.
_OUT = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)
sys.stdout = sys.stderr
_out_lock = threading.Lock()


def emit(obj):
    with _out_lock:
        _OUT.write(json.dumps(obj, separators=(",", ":")) + "\n")
        _OUT.flush()


cfg = json.loads(sys.argv[1])
commands = queue.Queue()


def read_commands():
    for line in sys.stdin:
        line = line.strip()
        if line:
            commands.put(json.loads(line).get("cmd"))
    commands.put("stop")


threading.Thread(target=read_commands, daemon=True).start()


def key_text(k):
    return None if k is None else bytes(k).decode("latin1")


def run_confluent():
    import confluent_kafka
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    topic = cfg["topic"]
    processed = {}  # partition -> next offset to commit
    last_cgrp = [None]

    def commit(partitions):
        offs = [TopicPartition(topic, p, processed[p]) for p in sorted(partitions) if p in processed]
        if not offs:
            return
        try:
            res = consumer.commit(offsets=offs, asynchronous=False)
        except KafkaException as e:
            emit({"e": "commit_error", "error": str(e.args[0])})
            return
        bad = [str(tp.error) for tp in res or [] if tp.error is not None]
        if bad:
            emit({"e": "commit_error", "error": bad})
            return
        emit({"e": "c", "offsets": {str(tp.partition): tp.offset for tp in offs}})
        for tp in offs:
            processed.pop(tp.partition, None)

    def on_assign(c, parts):
        emit({"e": "assign", "partitions": sorted(tp.partition for tp in parts), "protocol": c.rebalance_protocol() if hasattr(c, "rebalance_protocol") else None})

    def on_revoke(c, parts):
        ps = sorted(tp.partition for tp in parts)
        commit(ps)
        emit({"e": "revoke", "partitions": ps})

    def on_lost(c, parts):
        ps = sorted(tp.partition for tp in parts)
        for p in ps:
            processed.pop(p, None)
        emit({"e": "lost", "partitions": ps})

    def on_stats(text):
        s = json.loads(text).get("cgrp")
        if not s:
            return
        view = {k: s.get(k) for k in ("state", "join_state", "rebalance_cnt", "rebalance_reason", "assignment_size")}
        if view != last_cgrp[0]:
            last_cgrp[0] = view
            emit(dict(view, e="cgrp"))

    conf = {
        "bootstrap.servers": cfg["bootstrap"],
        "group.id": cfg["group"],
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "error_cb": lambda err: sys.stderr.write("librdkafka error: %s\n" % err),
    }
    if cfg.get("stats_ms"):
        conf["statistics.interval.ms"] = cfg["stats_ms"]
        conf["stats_cb"] = on_stats
    conf.update(cfg.get("config") or {})
    consumer = Consumer(conf)
    consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    emit({"e": "ready", "client": "confluent-kafka", "version": confluent_kafka.version()[0], "lib": "librdkafka " + confluent_kafka.libversion()[0]})
    while True:
        try:
            cmd = commands.get_nowait()
        except queue.Empty:
            cmd = None
        if cmd == "stop":
            commit(list(processed))
            consumer.close()
            emit({"e": "stopped"})
            return
        msgs = consumer.consume(num_messages=500, timeout=0.1)
        touched = set()
        for m in msgs:
            if m.error() is not None:
                if m.error().code() != confluent_kafka.KafkaError._PARTITION_EOF:
                    emit({"e": "error", "error": str(m.error())})
                continue
            emit({"e": "m", "p": m.partition(), "o": m.offset(), "k": key_text(m.key())})
            processed[m.partition()] = m.offset() + 1
            touched.add(m.partition())
        if touched:
            commit(touched)


def run_kafka_python():
    import kafka
    from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    topic = cfg["topic"]
    extra = dict(cfg.get("config") or {})
    names = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}
    if "partition_assignment_strategy" in extra:
        extra["partition_assignment_strategy"] = [names[n] for n in extra["partition_assignment_strategy"]]
    processed = {}

    consumer = KafkaConsumer(
        bootstrap_servers=cfg["bootstrap"],
        group_id=cfg["group"],
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **extra
    )

    def commit(partitions):
        offs = {TopicPartition(topic, p): OffsetAndMetadata(processed[p], "") for p in sorted(partitions) if p in processed}
        if not offs:
            return
        try:
            consumer.commit(offsets=offs)
        except Exception as e:
            emit({"e": "commit_error", "error": "%s: %s" % (type(e).__name__, e)})
            return
        emit({"e": "c", "offsets": {str(tp.partition): om.offset for tp, om in offs.items()}})
        for tp in offs:
            processed.pop(tp.partition, None)

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            ps = sorted(tp.partition for tp in revoked)
            commit(ps)
            emit({"e": "revoke", "partitions": ps})

        def on_partitions_assigned(self, assigned):
            emit({"e": "assign", "partitions": sorted(tp.partition for tp in assigned)})

    consumer.subscribe([topic], listener=Listener())
    emit({"e": "ready", "client": "kafka-python", "version": kafka.__version__, "lib": "Python %d.%d" % sys.version_info[:2]})
    while True:
        try:
            cmd = commands.get_nowait()
        except queue.Empty:
            cmd = None
        if cmd == "stop":
            commit(list(processed))
            consumer.close(autocommit=False)
            emit({"e": "stopped"})
            return
        polled = consumer.poll(timeout_ms=100, max_records=500)
        touched = set()
        for tp, records in polled.items():
            for r in records:
                emit({"e": "m", "p": r.partition, "o": r.offset, "k": key_text(r.key)})
                processed[r.partition] = r.offset + 1
                touched.add(r.partition)
        if touched:
            commit(touched)


try:
    if cfg["client"] == "confluent-kafka":
        run_confluent()
    elif cfg["client"] == "kafka-python":
        run_kafka_python()
    else:
        raise ValueError("unknown client %r" % cfg["client"])
except ImportError as e:
    emit({"e": "fatal", "error": "%s cannot be imported by %s: %s" % (cfg["client"], sys.executable, e)})
    sys.exit(3)
except Exception as e:
    emit({"e": "fatal", "error": "%s: %s" % (type(e).__name__, e), "traceback": traceback.format_exc()[-3000:]})
    sys.exit(1)
