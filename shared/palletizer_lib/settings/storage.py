"""Where a registry keeps its crate files and served index when not in its data directory: the `storage:`
mapping of `config.yaml`, naming an S3 bucket (`url: s3://BUCKET`, with `endpoint`, `region`, `prefix` and
`public_url`). Credentials are never part of it: they come from the standard AWS environment
(`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`)."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from palletizer_lib.domain.errors import BadRequest

S3_SCHEME = "s3://"
KEYS = ("url", "endpoint", "region", "prefix", "public_url", "direct_reads")
# S3's rules for a bucket name usable with path-style and virtual-host addressing alike.
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
REGION_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
PREFIX_PART = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class StorageConfig:
    """An S3 bucket holding `{prefix}crates/`, `{prefix}index/` and `{prefix}state/`."""

    bucket: str
    endpoint: str | None = None
    region: str | None = None
    prefix: str = ""
    public_url: str | None = None
    direct_reads: bool = False

    @classmethod
    def from_mapping(cls, raw: object) -> "StorageConfig":
        """The `storage:` mapping checked, else `BadRequest` saying what is wrong."""
        if not isinstance(raw, dict):
            raise BadRequest("storage must be a mapping with at least `url: s3://BUCKET`")
        unknown = sorted(str(key) for key in set(raw) - set(KEYS))
        if unknown:
            raise BadRequest(f"storage: unknown setting(s) {', '.join(unknown)} (known: {', '.join(KEYS)})")
        if "url" not in raw:
            raise BadRequest("storage: `url` is required (s3://BUCKET)")
        return cls(
            bucket=parse_bucket_url(raw["url"]),
            endpoint=_optional(raw.get("endpoint"), "endpoint", parse_http_url),
            region=_optional(raw.get("region"), "region", parse_region),
            prefix=_optional(raw.get("prefix"), "prefix", parse_prefix) or "",
            public_url=_optional(raw.get("public_url"), "public_url", parse_http_url),
            direct_reads=_flag(raw.get("direct_reads", False), "direct_reads"),
        )

    def to_mapping(self) -> dict[str, str | bool]:
        """The `storage:` mapping to write to `config.yaml` (settings left at their default left out)."""
        mapping = {
            "url": S3_SCHEME + self.bucket,
            "endpoint": self.endpoint,
            "region": self.region,
            "prefix": self.prefix or None,
            "public_url": self.public_url,
            "direct_reads": self.direct_reads or None,
        }
        return {key: value for key, value in mapping.items() if value is not None}

    @property
    def reader_url(self) -> str:
        """The URL anonymous readers reach the bucket at, without a trailing `/`: `public_url`, else the
        endpoint's path-style URL of the bucket (AWS's regional endpoint if there is no endpoint)."""
        if self.public_url:
            return self.public_url
        endpoint = self.endpoint or f"https://s3.{self.region or 'us-east-1'}.amazonaws.com"
        return f"{endpoint}/{self.bucket}"

    @property
    def public_index_url(self) -> str:
        """Where readers get the served index files (`config.json` and the rest), ending in `/`."""
        return f"{self.reader_url}/{self.prefix}index/"

    @property
    def public_crates_url(self) -> str:
        """Where readers get the crate files (`NAME/NAME-VERSION.crate`), ending in `/`."""
        return f"{self.reader_url}/{self.prefix}crates/"


def parse_bucket_url(url: object) -> str:
    """The bucket of `s3://BUCKET` (a trailing `/` allowed), else `BadRequest`."""
    if not isinstance(url, str) or not url.startswith(S3_SCHEME):
        raise BadRequest(f"storage: url must be s3://BUCKET, not `{url}`")
    bucket = url[len(S3_SCHEME) :].removesuffix("/")
    if "/" in bucket:
        raise BadRequest(f"storage: url `{url}` must name a bucket only (put a path in `prefix`)")
    if not BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
        raise BadRequest(
            f"storage: `{bucket}` is not a valid S3 bucket name (3 to 63 lower-case letters, digits, `.` and `-`)"
        )
    return bucket


def parse_http_url(url: object) -> str:
    """An http(s) URL with a host and no query, without its trailing `/`, else `BadRequest`."""
    if not isinstance(url, str) or any(c.isspace() for c in url):
        raise BadRequest(f"`{url}` is not an http(s) URL")
    try:
        split = urlsplit(url)
        host, _ = split.hostname, split.port
    except ValueError as exc:
        raise BadRequest(f"`{url}` is not a valid URL: {exc}") from exc
    if split.scheme not in ("http", "https") or not host or split.query or split.fragment or split.username:
        raise BadRequest(f"`{url}` is not an http(s) URL (http://HOST:PORT or https://HOST/PATH)")
    return url.rstrip("/")


def parse_region(region: object) -> str:
    """An S3 region name (`us-east-1`), else `BadRequest`."""
    if not isinstance(region, str) or not REGION_NAME.fullmatch(region):
        raise BadRequest(f"`{region}` is not a region name (such as us-east-1)")
    return region


def parse_prefix(prefix: object) -> str:
    """A key prefix as `a/b/` (empty stays empty), else `BadRequest`: relative, with parts of letters,
    digits, `.`, `_` and `-`, and no `.` or `..` part."""
    if not isinstance(prefix, str):
        raise BadRequest(f"`{prefix}` is not a key prefix")
    stripped = prefix.removesuffix("/")
    if not stripped:
        return ""
    parts = stripped.split("/")
    if any(not PREFIX_PART.fullmatch(part) or part in (".", "..") for part in parts):
        raise BadRequest(
            f"`{prefix}` is not a key prefix (such as `registry/`: relative, parts of "
            "letters, digits, `.`, `_` and `-`)"
        )
    return stripped + "/"


def _optional(value: object, name: str, parse: Callable[[object], str]) -> str | None:
    if value is None:
        return None
    try:
        return parse(value)
    except BadRequest as exc:
        raise BadRequest(f"storage: {name}: {exc.detail}") from exc


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise BadRequest(f"storage: {name} must be true or false, not `{value}`")
    return value
