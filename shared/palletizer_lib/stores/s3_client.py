"""One S3 bucket reached over boto3, with bounded waits and retries, every failure a `StorageError` that says
what went wrong (boto3 is imported by this module only, which only a configuration naming S3 brings in)."""

import contextlib
import io
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from palletizer_lib.domain.errors import StorageError
from palletizer_lib.settings.storage import StorageConfig

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30
MAX_ATTEMPTS = 3
PAGE_SIZE = 1000
REFUSED_CREDENTIALS = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"})
CREDENTIALS_HINT = "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"


class ObjectInfo(NamedTuple):
    """What a HEAD of an object tells: its size, when it last changed (POSIX seconds), its ETag and its
    user metadata."""

    size: int
    modified: float
    etag: str
    metadata: Mapping[str, str]


class StoredObject(NamedTuple):
    """An object's bytes and when it last changed (POSIX seconds)."""

    data: bytes
    modified: float


def make_client(config: StorageConfig) -> Any:
    """A boto3 S3 client for `config`'s endpoint and region: path-style addressing, signature v4, connect
    and read timeouts, bounded retries; credentials from the standard AWS environment."""
    import boto3
    from botocore.config import Config

    client_config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        s3={"addressing_style": "path"},
        signature_version="s3v4",
    )
    with s3_errors("set up the S3 client"):
        return boto3.session.Session().client(
            "s3", endpoint_url=config.endpoint, region_name=config.region, config=client_config
        )


@contextlib.contextmanager
def s3_errors(action: str) -> Iterator[None]:
    """Turn what boto3 raises inside into a `StorageError` saying that `action` failed, and why."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except NoCredentialsError as exc:
        raise StorageError(
            f"could not {action}: no S3 credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        ) from exc
    except ClientError as exc:
        raise StorageError(f"could not {action}: {describe(exc)}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"could not {action}: {exc}") from exc


def describe(exc: Any) -> str:
    """A boto3 `ClientError` in words: the S3 error code and message, and what to check."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?"))
    message = error.get("Message") or ""
    said = f"{code}: {message}" if message else code
    if code in REFUSED_CREDENTIALS:
        return f"the S3 credentials were refused ({said}); {CREDENTIALS_HINT}"
    if code in ("AccessDenied", "403"):
        return f"access denied ({said}); {CREDENTIALS_HINT} and the bucket's permissions"
    if code == "NoSuchBucket":
        return f"the bucket does not exist ({said})"
    return said


def is_missing(exc: Any) -> bool:
    """True if a boto3 `ClientError` says the object is not there (the bucket is)."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in ("NoSuchKey", "404", "NotFound")


class ObjectStream(io.RawIOBase):
    """An object's body read as a binary file, a failure while reading a `StorageError`."""

    def __init__(self, body: Any, label: str) -> None:
        self._body = body
        self._label = label

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with s3_errors(f"read {self._label}"):
            data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Bucket:
    """Objects of one bucket by key: what the S3 stores need, and no more."""

    def __init__(self, client: Any, name: str, page_size: int = PAGE_SIZE) -> None:
        self.client = client
        self.name = name
        self._page_size = page_size

    def put(
        self,
        key: str,
        data: bytes | memoryview,
        content_type: str,
        cache_control: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Store `data` at `key` (an S3 PUT: readers see the old object or the new, never a part)."""
        extra: dict[str, Any] = {"ContentType": content_type}
        if cache_control:
            extra["CacheControl"] = cache_control
        if metadata:
            extra["Metadata"] = dict(metadata)
        with s3_errors(f"write {key}"):
            self.client.put_object(Bucket=self.name, Key=key, Body=bytes(data), **extra)

    def get(self, key: str) -> StoredObject | None:
        """The object at `key` read whole, or None if there is none."""
        answer = self._get(key)
        if answer is None:
            return None
        with s3_errors(f"read {key}"), contextlib.closing(answer["Body"]) as body:
            return StoredObject(body.read(), answer["LastModified"].timestamp())

    def open(self, key: str) -> tuple[ObjectStream, int] | None:
        """The object at `key` opened for streaming (the caller closes it) and its size, or None."""
        answer = self._get(key)
        return None if answer is None else (ObjectStream(answer["Body"], key), answer["ContentLength"])

    def head(self, key: str) -> ObjectInfo | None:
        """What a HEAD of `key` tells, or None if there is no object there (a HEAD answers a missing
        bucket the same way: `s3.check_storage` tells them apart)."""
        answer = self._call("head_object", key, f"look up {key}")
        if answer is None:
            return None
        return ObjectInfo(
            answer["ContentLength"],
            answer["LastModified"].timestamp(),
            answer.get("ETag", ""),
            answer.get("Metadata", {}),
        )

    def delete(self, key: str) -> None:
        """Remove the object at `key` (nothing if there is none)."""
        with s3_errors(f"remove {key}"):
            self.client.delete_object(Bucket=self.name, Key=key)

    def reach(self, prefix: str) -> None:
        """List one key under `prefix`: a StorageError if the endpoint, the bucket or the credentials fail."""
        with s3_errors(f"reach the bucket {self.name}"):
            self.client.list_objects_v2(Bucket=self.name, Prefix=prefix, MaxKeys=1)

    def keys(self, prefix: str) -> Iterator[str]:
        """Every key starting with `prefix`, in S3's order (sorted by UTF-8 bytes, that is by code point),
        a page at a time."""
        with s3_errors(f"list {prefix or 'the bucket'}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.name, Prefix=prefix, PaginationConfig={"PageSize": self._page_size}
            )
            for page in pages:
                for entry in page.get("Contents", ()):
                    yield entry["Key"]

    def _get(self, key: str) -> dict[str, Any] | None:
        return self._call("get_object", key, f"read {key}")

    def _call(self, operation: str, key: str, action: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        with s3_errors(action):
            try:
                answer: dict[str, Any] = getattr(self.client, operation)(Bucket=self.name, Key=key)
                return answer
            except ClientError as exc:
                if is_missing(exc):
                    return None
                raise
