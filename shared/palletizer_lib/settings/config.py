"""The registry's YAML configuration (`config.yaml` in the data directory)."""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import yaml

from palletizer_lib.disk import yaml_file
from palletizer_lib.disk.files import atomic_write
from palletizer_lib.domain.errors import BadRequest
from palletizer_lib.domain.urls import CRATES_IO_ALIASES, ServedUrls, served_urls
from palletizer_lib.settings.client_address import trusted_network
from palletizer_lib.settings.permissions import PRIVATE_FILE_MODE
from palletizer_lib.settings.storage import StorageConfig

T = TypeVar("T")
DEFAULT_MAX_CRATE_SIZE = 10 * 1024 * 1024
DEFAULT_UPSTREAM_FRESHNESS = 300
DEFAULT_UPSTREAM_FAILURE_HOLD = 5
DEFAULT_GIT_SQUASH_AFTER = 10_000
DEFAULT_MIRROR_CACHE_SIZE = 10 * 1024**3
# Settings a registry on one machine leaves out of its config.yaml.
OMITTED_WHEN_UNSET = ("storage", "database", "trusted_proxies")
UPSTREAM_SCHEMES = ("sparse+http://", "sparse+https://")
DATABASE_SCHEMES = ("postgresql://", "postgres://")


@dataclass
class RegistryConfig:
    """Settings of one registry; unknown keys in the YAML are an error, so typos are caught."""

    public_url: str | None = None
    api_url: str | None = None
    files_url: str | None = None
    max_crate_size: int = DEFAULT_MAX_CRATE_SIZE
    allow_crates_io: bool = True
    allowed_registries: list[str] = field(default_factory=list)
    auth_required: bool = False
    upstream: str | None = None
    upstream_freshness: int = DEFAULT_UPSTREAM_FRESHNESS
    upstream_concurrency: int | None = None
    upstream_failure_hold: int = DEFAULT_UPSTREAM_FAILURE_HOLD
    allowed_names: list[str] = field(default_factory=list)
    mirror_cache_size: int = DEFAULT_MIRROR_CACHE_SIZE
    git_squash_after: int | None = DEFAULT_GIT_SQUASH_AFTER
    storage: dict[str, str | bool] | None = None
    database: str | None = None
    trusted_proxies: list[str] = field(default_factory=list)
    claim_ownerless_crates: bool = False

    def allows_registry(self, index_url: str) -> bool:
        """True if a dependency from the registry at `index_url` may be published here."""
        if index_url in CRATES_IO_ALIASES:
            return self.allow_crates_io
        return _strip(index_url) in {_strip(u) for u in self.allowed_registries}

    def served_urls(
        self,
        fallback_public: str,
        public_url: str | None = None,
        api_url: str | None = None,
        files_url: str | None = None,
    ) -> ServedUrls:
        """Each URL from the argument if given, else from this file; the public URL defaults to
        `fallback_public`, the API's and the files' to the public URL."""
        storage = self.storage_config
        bucket = (
            (storage.public_index_url, storage.public_crates_url)
            if storage is not None and storage.direct_reads
            else None
        )
        return served_urls(
            fallback_public, public_url or self.public_url, api_url or self.api_url, files_url or self.files_url, bucket
        )

    @classmethod
    def load(cls, path: Path) -> "RegistryConfig":
        """Read the config file, raising `BadRequest` with the reason if it is not valid."""
        try:
            raw = yaml_file.load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError as exc:
            raise BadRequest(f"no registry at {path.parent} (run `palletizer --data {path.parent} init`)") from exc
        except yaml.YAMLError as exc:
            raise BadRequest(f"{path} is not valid YAML: {yaml_file.one_line(exc)}") from exc
        if not isinstance(raw, dict):
            raise BadRequest(f"{path} must hold a mapping of settings")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise BadRequest(f"{path}: unknown setting(s) {', '.join(unknown)}")
        return cls(**raw).checked(path)

    def checked(self, path: Path) -> "RegistryConfig":
        """These settings, normalised, if they are valid for the config file at `path`; else `BadRequest`."""
        self._check_numbers(path)
        if not isinstance(self.allowed_registries, list):
            raise BadRequest(f"{path}: allowed_registries must be a list of index URLs")
        if self.upstream is not None:
            self.upstream = _in_file(path, "", validate_upstream, self.upstream)
        if not isinstance(self.allowed_names, list) or not all(isinstance(n, str) for n in self.allowed_names):
            raise BadRequest(f"{path}: allowed_names must be a list of crate names")
        if self.storage is not None:
            self.storage = _in_file(path, "", lambda raw: StorageConfig.from_mapping(raw).to_mapping(), self.storage)
        if self.auth_required and self.storage_config is not None and self.storage_config.direct_reads:
            raise BadRequest(
                f"{path}: storage: direct_reads lets anyone read the bucket, so it cannot go with "
                "auth_required (reads then go through the servers)"
            )
        if not isinstance(self.claim_ownerless_crates, bool):
            raise BadRequest(f"{path}: claim_ownerless_crates must be true or false")
        if not isinstance(self.trusted_proxies, list):
            raise BadRequest(f"{path}: trusted_proxies must be a list of addresses or networks (10.0.0.5, 10.0.0.0/24)")
        self.trusted_proxies = _in_file(
            path, "trusted_proxies: ", lambda raw: [str(trusted_network(e)) for e in raw], self.trusted_proxies
        )
        if self.database is not None:
            self.database = _in_file(path, "", validate_database, self.database)
        return self

    def _check_numbers(self, path: Path) -> None:
        if not _whole(self.max_crate_size, 1):
            raise BadRequest(f"{path}: max_crate_size must be a positive number of bytes")
        if not _whole(self.upstream_freshness, 0):
            raise BadRequest(f"{path}: upstream_freshness must be a number of seconds (0 or more)")
        if not _whole(self.mirror_cache_size, 1):
            raise BadRequest(f"{path}: mirror_cache_size must be a positive number of bytes")
        if self.upstream_concurrency is not None and not _whole(self.upstream_concurrency, 1):
            raise BadRequest(
                f"{path}: upstream_concurrency must be a number of threads (1 or more; null: half the serving threads)"
            )
        if not _whole(self.upstream_failure_hold, 0):
            raise BadRequest(f"{path}: upstream_failure_hold must be a number of seconds (0 or more)")
        if self.git_squash_after is not None and not _whole(self.git_squash_after, 0):
            raise BadRequest(f"{path}: git_squash_after must be a number of commits (0 or null: never squash)")

    @property
    def storage_config(self) -> StorageConfig | None:
        """Where the crate files and the served index are kept, if not in the data directory."""
        return None if self.storage is None else StorageConfig.from_mapping(self.storage)

    def save(self, path: Path) -> None:
        """Write the config file atomically."""
        settings = {
            key: value
            for key, value in asdict(self).items()
            if value not in (None, []) or key not in OMITTED_WHEN_UNSET
        }
        atomic_write(path, yaml.safe_dump(settings, sort_keys=False).encode("utf-8"), mode=PRIVATE_FILE_MODE)


def without_userinfo(url: str) -> str:
    """`url` without the `user:password@` of its host part: the only form of an upstream URL ever shown."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an invalid URL)"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """(`url` without `user:password@`, (user, password) if it had them), for `init --upstream`."""
    try:
        parts = urlsplit(url.removeprefix("sparse+"))
    except ValueError:
        return url, None
    if parts.username is None and parts.password is None:
        return url, None
    return without_userinfo(url), (unquote(parts.username or ""), unquote(parts.password or ""))


def validate_upstream(url: object) -> str:
    """`url` as a sparse registry's index URL ending in `/` (`sparse+https://index.crates.io/`), without
    credentials, else `BadRequest` saying what is wrong (never showing credentials)."""
    if not isinstance(url, str) or not url.startswith(UPSTREAM_SCHEMES):
        shown = without_userinfo(url) if isinstance(url, str) else url
        raise BadRequest(f"the upstream must be a sparse index URL (sparse+https://HOST/PATH/), not `{shown}`")
    if split_credentials(url)[1] is not None:
        raise BadRequest(
            f"the upstream URL `{without_userinfo(url)}` must not carry a user or password: put "
            "them in the data directory's `upstream-credentials` file (USER:PASSWORD, mode 0600; "
            "`palletizer init --upstream` with the full URL writes it) and remove them from the URL"
        )
    try:
        split = urlsplit(url[len("sparse+") :])
        host = split.hostname
    except ValueError:
        host = None
    if not host or split.query or split.fragment or any(c.isspace() for c in url):
        raise BadRequest(
            f"the upstream `{without_userinfo(url)}` is not a valid sparse index URL (sparse+https://HOST/PATH/)"
        )
    return url if url.endswith("/") else url + "/"


def _whole(value: object, least: int) -> bool:
    """True if `value` is a whole number (not a boolean) of at least `least`."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _in_file(path: Path, setting: str, check: Callable[[Any], T], value: object) -> T:
    """`check(value)`, its `BadRequest` said of the config file at `path` (and of `setting`, if given)."""
    try:
        return check(value)
    except BadRequest as exc:
        raise BadRequest(f"{path}: {setting}{exc.detail}") from exc


def validate_database(url: object) -> str:
    """`url` if it is a PostgreSQL connection URL (postgresql://USER@HOST:PORT/DATABASE), else `BadRequest`
    saying what is wrong."""
    if not isinstance(url, str) or not url.startswith(DATABASE_SCHEMES):
        raise BadRequest("the database must be a PostgreSQL URL (postgresql://USER@HOST:PORT/DATABASE)")
    try:
        _ = urlsplit(url).port
    except ValueError as exc:
        raise BadRequest(f"the database URL is not valid ({exc}): use postgresql://USER@HOST:PORT/DATABASE") from exc
    if any(c.isspace() for c in url):
        raise BadRequest("the database URL must not contain spaces: use postgresql://USER@HOST:PORT/DATABASE")
    return url


def _strip(url: str) -> str:
    return url.rstrip("/")
