"""JSON-lines protocol shared by the Python client drivers of the compatibility suite.

A driver is started by a TypeScript test as `/usr/bin/python3 <driver>.py` and speaks on its
standard streams:

- first it writes one line, {"ready": true, ...facts about the client...}, or
  {"ready": false, "error": "..."} when the client cannot be imported (then it exits 3);
- then, for each request line {"id": N, "op": "name", "args": {...}} read from stdin, it writes
  one line {"id": N, "ok": true, "result": ...} or {"id": N, "ok": false, "error": {...}};
- {"op": "exit"} (or the end of stdin) closes every client and ends the process.

Binary data (keys, values, header values) travels as base64 strings, null as null. Anything
else the libraries print (librdkafka logs, Python logging) goes to stderr: the protocol has the
process's original stdout to itself, and file descriptor 1 is pointed at stderr.
"""
import base64
import json
import os
import sys
import traceback

# Keep the real stdout for the protocol; send every other write to fd 1 (C libraries
# included) to stderr.
_PROTO = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)
sys.stdout = sys.stderr


def send(obj):
    _PROTO.write(json.dumps(obj, separators=(",", ":")) + "\n")
    _PROTO.flush()


def b64(data):
    if data is None:
        return None
    return base64.b64encode(bytes(data)).decode("ascii")


def unb64(text):
    if text is None:
        return None
    return base64.b64decode(text)


def not_installed(client, error):
    send({"ready": False, "error": "%s cannot be imported by %s: %s" % (client, sys.executable, error)})
    sys.exit(3)


def serve(handlers, hello, describe_error, shutdown):
    """Answers requests until "exit" or the end of stdin."""
    send(dict(hello, ready=True))
    try:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            req = json.loads(line)
            rid = req.get("id")
            op = req.get("op")
            if op == "exit":
                shutdown()
                send({"id": rid, "ok": True, "result": None})
                return
            handler = handlers.get(op)
            if handler is None:
                send({"id": rid, "ok": False, "error": {"type": "UnknownOp", "message": "unknown op %r" % op}})
                continue
            try:
                result = handler(req.get("args") or {})
                send({"id": rid, "ok": True, "result": result})
            except Exception as e:  # reported to the test, which decides
                err = describe_error(e)
                err["traceback"] = traceback.format_exc()[-3000:]
                send({"id": rid, "ok": False, "error": err})
    finally:
        try:
            shutdown()
        except Exception:
            traceback.print_exc()
