"""The crate store and the served index in an S3 bucket, under the configured prefix:

- `crates/NAME/NAME-VERSION.crate`: the crate files (`S3CrateStore`), anonymously readable;
- `index/...`: the served index files and `config.json` (`S3ServedIndex`), anonymously readable;
- `state/index-head`: the commit the served index was last brought up to (its `HEAD_KEY`), never public.

A PUT replaces an object whole, so a reader sees the old object or the new, never a part. The Content-Type
and Cache-Control of each object are what readers reaching the bucket directly get: crate files as
static.crates.io serves them (`application/gzip`, immutable), index files revalidated on every use (cargo
sends the ETag back)."""

import io
import json
import uuid
from collections.abc import Hashable, Iterator
from typing import Any

from palletizer_lib.disk.files import check_key
from palletizer_lib.domain.errors import StorageError
from palletizer_lib.settings.storage import StorageConfig
from palletizer_lib.stores.crates import StoredCrate
from palletizer_lib.stores.s3_client import PAGE_SIZE, S3Bucket, make_client, s3_errors
from palletizer_lib.stores.served_index import CONFIG_JSON, HEAD_KEY, ServedFile

CRATES = "crates/"
INDEX = "index/"
HEAD_OBJECT = "state/index-head"
CRATE_TYPE = "application/gzip"
CRATE_CACHE = "public, max-age=31536000, immutable"
INDEX_TYPE = "text/plain; charset=utf-8"
CONFIG_TYPE = "application/json"
INDEX_CACHE = "no-cache"
# User metadata of the head object, new on every write: what `version` watches.
WRITE_ID = "write-id"


class S3CrateStore:
    """Crate files as objects `{prefix}crates/{key}` (see `CrateStore`)."""

    def __init__(self, bucket: S3Bucket, prefix: str = "") -> None:
        self._bucket = bucket
        self._root = prefix + CRATES

    def put(self, key: str, data: bytes | memoryview) -> None:
        self._bucket.put(self._object(key), data, CRATE_TYPE, CRATE_CACHE)

    def get(self, key: str) -> bytes | None:
        stored = self._bucket.get(self._object(key))
        return None if stored is None else stored.data

    def open(self, key: str) -> StoredCrate | None:
        opened = self._bucket.open(self._object(key))
        if opened is None:
            return None
        stream, size = opened
        return StoredCrate(io.BufferedReader(stream), size)

    def size(self, key: str) -> int | None:
        info = self._bucket.head(self._object(key))
        return None if info is None else info.size

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def delete(self, key: str) -> None:
        self._bucket.delete(self._object(key))

    def discard_partial(self, key: str) -> None:
        """Nothing to do: an interrupted PUT leaves no object behind."""
        check_key(key, "crate store")

    def list(self, prefix: str = "") -> Iterator[str]:
        start = len(self._root)
        return (key[start:] for key in self._bucket.keys(self._root + prefix) if not key.endswith("/"))

    def unreadable(self) -> str | None:
        """Why the bucket cannot be reached (one listing of one key), None if it can."""
        try:
            self._bucket.reach(self._root)
        except StorageError as exc:
            return exc.detail
        return None

    def _object(self, key: str) -> str:
        check_key(key, "crate store")
        return self._root + key


class S3ServedIndex:
    """Served index files as objects `{prefix}index/{key}`, and `HEAD_KEY` as `{prefix}state/index-head`
    (see `ServedIndex`)."""

    def __init__(self, bucket: S3Bucket, prefix: str = "") -> None:
        self._bucket = bucket
        self._root = prefix + INDEX
        self._head = prefix + HEAD_OBJECT

    def put(self, key: str, data: bytes) -> None:
        if key == HEAD_KEY:
            self._bucket.put(self._head, data, INDEX_TYPE, metadata={WRITE_ID: uuid.uuid4().hex})
        else:
            self._bucket.put(self._object(key), data, CONFIG_TYPE if key == CONFIG_JSON else INDEX_TYPE, INDEX_CACHE)

    def get(self, key: str) -> bytes | None:
        stored = self.read(key)
        return None if stored is None else stored.data

    def read(self, key: str) -> ServedFile | None:
        stored = self._bucket.get(self._object(key))
        return None if stored is None else ServedFile(stored.data, stored.modified)

    def delete(self, key: str) -> None:
        self._bucket.delete(self._object(key))

    def list(self) -> Iterator[str]:
        start = len(self._root)
        return (key[start:] for key in self._bucket.keys(self._root) if not key.endswith("/"))

    def version(self) -> Hashable | None:
        """The head object's ETag and write id (a HEAD request), None if there is no head."""
        info = self._bucket.head(self._head)
        return None if info is None else (info.etag, info.metadata.get(WRITE_ID))

    def _object(self, key: str) -> str:
        if key == HEAD_KEY:
            return self._head
        check_key(key, "served index")
        return self._root + key


def open_s3_stores(config: StorageConfig, page_size: int = PAGE_SIZE) -> tuple[S3CrateStore, S3ServedIndex]:
    """The crate store and the served index in `config`'s bucket (no request made yet: see
    `check_storage`); `page_size` is how many keys one listing request asks for."""
    bucket = S3Bucket(make_client(config), config.bucket, page_size)
    return S3CrateStore(bucket, config.prefix), S3ServedIndex(bucket, config.prefix)


def check_storage(config: StorageConfig) -> None:
    """Make one request to `config`'s bucket (a listing of one key), so that a wrong endpoint, bucket or
    credentials is a `StorageError` saying which, before the registry relies on it."""
    client = make_client(config)
    with s3_errors(f"reach the bucket {config.bucket} at {config.endpoint or 'AWS S3'}"):
        client.list_objects_v2(Bucket=config.bucket, Prefix=config.prefix, MaxKeys=1)


def first_object(config: StorageConfig) -> str | None:
    """The first key stored under `config`'s prefix (a sign the bucket already holds a registry there), None
    if there is none."""
    client = make_client(config)
    where = f"{config.prefix} in the bucket {config.bucket}" if config.prefix else f"the bucket {config.bucket}"
    with s3_errors(f"list {where}"):
        listed = client.list_objects_v2(Bucket=config.bucket, Prefix=config.prefix, MaxKeys=1)
    contents = listed.get("Contents", ())
    return contents[0]["Key"] if contents else None


def publish_prefixes(config: StorageConfig, listable: bool = True) -> None:
    """Let anyone read the objects under `{prefix}index/` and `{prefix}crates/` (a bucket policy statement,
    added to the bucket's policy, replacing the one an earlier call added; `state/` stays private).

    With `listable`, anyone may also list the bucket's keys: only then does a missing object answer 404
    (what cargo takes for "no such crate") rather than 403 (an error that stops cargo). It shows the name of
    every object in the bucket, so give the registry a bucket of its own, or pass False."""
    bucket = config.bucket
    reads = {
        "Sid": "PalletizerPublicRead",
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:GetObject"],
        "Resource": [
            f"arn:aws:s3:::{bucket}/{config.prefix}{INDEX}*",
            f"arn:aws:s3:::{bucket}/{config.prefix}{CRATES}*",
        ],
    }
    lists = {
        "Sid": "PalletizerPublicList",
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}"],
    }
    ours = [reads, lists] if listable else [reads]
    client = make_client(config)
    statements = _policy(client, bucket).get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    statements = [
        statement
        for statement in statements
        if not isinstance(statement, dict) or statement.get("Sid") not in (reads["Sid"], lists["Sid"])
    ]
    policy = {"Version": "2012-10-17", "Statement": statements + ours}
    with s3_errors(f"set the policy of the bucket {bucket}"):
        client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def _policy(client: Any, bucket: str) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    with s3_errors(f"read the policy of the bucket {bucket}"):
        try:
            text = client.get_bucket_policy(Bucket=bucket)["Policy"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchBucketPolicy":
                return {}
            raise
    try:
        policy = json.loads(text)
    except ValueError as exc:
        raise StorageError(f"the policy of the bucket {bucket} is not JSON: {exc}") from exc
    if not isinstance(policy, dict):
        raise StorageError(f"the policy of the bucket {bucket} is not a JSON object")
    return policy
