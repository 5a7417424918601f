"""A local S3 endpoint for the benchmark: moto's server behind the counting proxy.

:class:`Remote` starts ``python -m moto.server`` and ``python -m
bench.s3proxy`` as child processes on free 127.0.0.1 ports (separate
processes, so neither competes with the engines for this process's GIL),
creates a bucket, and gives each engine its way in: ``storage_options``
for Pilum and Lance (``aws_endpoint`` = the proxy, plain HTTP), a
``pyarrow.fs.S3FileSystem`` for Parquet. Clients talk only to the proxy;
the harness's own housekeeping (bucket creation, deleting a copy) goes to
moto directly and is not counted.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from typing import Dict, Optional

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "aws_region": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(port: int, process: subprocess.Popen, what: str, path: str = "/", timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer on port {port} within {timeout_s:.0f} s")


class Remote:
    """moto + counting proxy; use as a context manager."""

    def __init__(self, latency_ms: float, bucket: str = "pilum-bench", trace: Optional[str] = None):
        self.latency_ms = latency_ms
        self.trace = trace
        self.bucket = bucket
        self.moto_port = _free_port()
        self.proxy_port = _free_port()
        self.processes = []

    # --- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> "Remote":
        moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.moto_port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(moto)
        _wait_http(self.moto_port, moto, "moto server")
        trace = ["--trace", self.trace] if self.trace else []
        proxy = subprocess.Popen([sys.executable, "-m", "bench.s3proxy", "--port", str(self.proxy_port),
                                  "--upstream", f"127.0.0.1:{self.moto_port}", "--latency-ms", str(self.latency_ms),
                                  *trace],
                                 cwd=PACKAGE_PARENT)
        self.processes.append(proxy)
        _wait_http(self.proxy_port, proxy, "S3 proxy", "/_bench/counts")
        self._moto("PUT", f"/{self.bucket}")
        return self

    def __exit__(self, *exc) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()

    # --- access ----------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The URL clients use (the proxy)."""
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def storage_options(self) -> Dict[str, str]:
        """Object-store options for Pilum and pylance."""
        return {**CREDENTIALS, "aws_endpoint": self.endpoint, "aws_allow_http": "true"}

    def arrow_filesystem(self):
        """A ``pyarrow.fs.S3FileSystem`` talking to the proxy."""
        from pyarrow import fs

        return fs.S3FileSystem(access_key=CREDENTIALS["aws_access_key_id"],
                               secret_key=CREDENTIALS["aws_secret_access_key"], region=CREDENTIALS["aws_region"],
                               endpoint_override=f"127.0.0.1:{self.proxy_port}", scheme="http")

    def counts(self, reset: bool = False) -> Dict[str, object]:
        """Requests and bytes the proxy has seen (since the last reset); `reset` zeroes them."""
        connection = http.client.HTTPConnection("127.0.0.1", self.proxy_port, timeout=30)
        connection.request("POST" if reset else "GET", "/_bench/reset" if reset else "/_bench/counts")
        data = json.loads(connection.getresponse().read())
        connection.close()
        return data

    def put_object(self, key: str, body: bytes) -> None:
        """One PUT of `body` at `key` in the bucket, through the proxy (counted)."""
        self._moto("PUT", f"/{self.bucket}/{key}", body, port=self.proxy_port)

    def _moto(self, method: str, path: str, body: Optional[bytes] = None, port: Optional[int] = None) -> bytes:
        connection = http.client.HTTPConnection("127.0.0.1", port or self.moto_port, timeout=120)
        connection.request(method, path, body=body)
        response = connection.getresponse()
        payload = response.read()
        connection.close()
        if response.status >= 300:
            raise RuntimeError(f"moto {method} {path}: {response.status} {payload[:200]!r}")
        return payload

    def delete_prefix(self, prefix: str) -> int:
        """Deletes every object under `prefix` in the bucket, directly on moto (not counted)."""
        import boto3

        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{self.moto_port}",
                              aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1")
        deleted = 0
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
                deleted += len(keys)
        return deleted
