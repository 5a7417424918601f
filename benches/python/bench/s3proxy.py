"""A counting HTTP proxy in front of a local S3 server (moto), run as its own process.

Every request a client sends is counted by method (``GET`` with a ``Range``
header counts as ``GET range``), optionally delayed by a fixed latency
before it is forwarded (so that a request costs what a round trip to real
object storage costs), then forwarded to the upstream server over a
per-thread keep-alive connection. Response bytes are counted too.

Control endpoints (not counted): ``GET /_bench/counts`` returns the counts
as JSON; ``POST /_bench/reset`` returns them and sets them to zero.

    python -m bench.s3proxy --port 9001 --upstream 127.0.0.1:9000 --latency-ms 10 [--trace requests.jsonl]
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "trailer", "upgrade", "expect"}


class Counts:
    """Thread-safe request and byte counters."""

    def __init__(self):
        self.lock = threading.Lock()
        self.methods: Counter = Counter()
        self.bytes_in = 0
        self.bytes_out = 0

    def add(self, method: str, bytes_in: int, bytes_out: int) -> None:
        with self.lock:
            self.methods[method] += 1
            self.bytes_in += bytes_in
            self.bytes_out += bytes_out

    def snapshot(self, reset: bool = False) -> dict:
        with self.lock:
            data = {"requests": sum(self.methods.values()), "by_method": dict(self.methods),
                    "bytes_sent_to_client": self.bytes_out, "bytes_from_client": self.bytes_in}
            if reset:
                self.methods.clear()
                self.bytes_in = self.bytes_out = 0
        return data


def make_handler(upstream: str, latency_s: float, counts: Counts, trace=None):
    host, port = upstream.rsplit(":", 1)
    local = threading.local()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in separate writes; with Nagle's algorithm
        # the body waits for the client's delayed ACK of the headers (about
        # 40 ms on Linux), a stall real object storage does not have.
        disable_nagle_algorithm = True

        def log_message(self, format, *args):  # noqa: A002 - silence the per-request log
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                parts = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _reply(self, status: int, body: bytes, headers=()) -> None:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _upstream(self, method: str, body: bytes, headers: dict):
            for attempt in (0, 1):
                connection = getattr(local, "connection", None)
                if connection is None:
                    connection = local.connection = http.client.HTTPConnection(host, int(port), timeout=300)
                    connection.connect()
                    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                try:
                    connection.request(method, self.path, body=body or None, headers=headers)
                    response = connection.getresponse()
                    return response, response.read()
                except (http.client.HTTPException, OSError):
                    connection.close()
                    local.connection = None
                    if attempt:
                        raise

        def _forward(self) -> None:
            if self.path.startswith("/_bench/"):
                data = counts.snapshot(reset=self.path == "/_bench/reset")
                self._reply(200, json.dumps(data).encode(), [("Content-Type", "application/json")])
                return
            arrived = time.monotonic()
            body = self._body()
            method = self.command
            if method == "GET" and "Range" in self.headers:
                method = "GET range"
            if latency_s:
                time.sleep(latency_s)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            if body or self.command in ("PUT", "POST"):
                headers["Content-Length"] = str(len(body))
            response, payload = self._upstream(self.command, body, headers)
            counts.add(method, len(body), len(payload))
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() not in ("content-length", "server", "date"):
                    self.send_header(name, value)
            length = response.getheader("Content-Length") if self.command == "HEAD" else str(len(payload))
            self.send_header("Content-Length", length or "0")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            if trace is not None:
                line = json.dumps({"t": arrived, "s": time.monotonic() - arrived, "method": method,
                                   "path": self.path, "sent": len(body), "received": len(payload)})
                with counts.lock:
                    trace.write(line + "\n")
                    trace.flush()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="Counting, latency-adding proxy for a local S3 server.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="host:port of the S3 server")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added before forwarding each request")
    parser.add_argument("--trace", help="append one JSON line per forwarded request (arrival time, seconds "
                        "taken, method, path, bytes) to this file")
    args = parser.parse_args()
    trace = open(args.trace, "a") if args.trace else None
    handler = make_handler(args.upstream, args.latency_ms / 1e3, Counts(), trace)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
