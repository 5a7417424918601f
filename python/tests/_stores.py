"""Dataset stores for tests that run on local disk and on S3: a local
directory, or a fresh prefix of the moto bucket of ``test_s3.py``, behind
one small interface (URIs, storage options, listing and writing raw
objects), and the ``store`` fixture parametrized over both.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest


class _LocalStore:
    """Datasets under a local directory."""

    kind = "local"
    options = None

    def __init__(self, root: Path):
        self.root = root

    def uri(self, name: str) -> str:
        return str(self.root / name)

    def files(self, name: str) -> list:
        base = self.root / name
        return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())

    def put(self, name: str, relative: str, data: bytes) -> None:
        path = self.root / name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def remove(self, name: str) -> None:
        shutil.rmtree(self.root / name)


class _S3Store:
    """Datasets under a fresh prefix of the moto bucket."""

    kind = "s3"
    bucket = "pilum-test"

    def __init__(self, endpoint: str):
        import boto3  # moto[server] depends on it

        self.options = {
            "aws_access_key_id": "x",
            "aws_secret_access_key": "x",
            "aws_region": "us-east-1",
            "aws_endpoint": endpoint,
            "aws_allow_http": "true",
        }
        self.client = boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
        )
        self.prefix = uuid.uuid4().hex

    def uri(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}/{name}"

    def _keys(self, name: str) -> list:
        prefix = f"{self.prefix}/{name}/"
        keys = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys

    def files(self, name: str) -> list:
        cut = len(f"{self.prefix}/{name}/")
        return sorted(key[cut:] for key in self._keys(name))

    def put(self, name: str, relative: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=f"{self.prefix}/{name}/{relative}", Body=data)

    def remove(self, name: str) -> None:
        for key in self._keys(name):
            self.client.delete_object(Bucket=self.bucket, Key=key)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request, tmp_path):
    if request.param == "local":
        return _LocalStore(tmp_path)
    return _S3Store(request.getfixturevalue("moto_endpoint"))


