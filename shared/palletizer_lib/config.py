"""The registry's YAML configuration (`config.yaml` in the data directory)."""

from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from .errors import BadRequest
from .storage import atomic_write

CRATES_IO_INDEX = "https://github.com/rust-lang/crates.io-index"
CRATES_IO_ALIASES = frozenset({CRATES_IO_INDEX, "sparse+https://index.crates.io/"})
DEFAULT_MAX_CRATE_SIZE = 10 * 1024 * 1024


@dataclass(frozen=True)
class ServedUrls:
    """Where cargo reaches the registry (roots, no trailing slash): the index, the web API, downloads."""

    public: str
    api: str
    files: str


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

    def allows_registry(self, index_url: str) -> bool:
        """True if a dependency from the registry at `index_url` may be published here."""
        if index_url in CRATES_IO_ALIASES:
            return self.allow_crates_io
        return _strip(index_url) in {_strip(u) for u in self.allowed_registries}

    def served_urls(self, fallback_public: str, public_url: str | None = None, api_url: str | None = None,
                    files_url: str | None = None) -> ServedUrls:
        """Each URL from the argument if given, else from this file; the public URL defaults to
        `fallback_public`, the API's and the files' to the public URL."""
        public = _strip(public_url or self.public_url or fallback_public)
        return ServedUrls(public, _strip(api_url or self.api_url or public),
                          _strip(files_url or self.files_url or public))

    @classmethod
    def load(cls, path: Path) -> "RegistryConfig":
        """Read the config file, raising `BadRequest` with the reason if it is not valid."""
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError as exc:
            raise BadRequest(f"no registry at {path.parent} (run `palletizer --data {path.parent} init`)") from exc
        except yaml.YAMLError as exc:
            raise BadRequest(f"{path} is not valid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise BadRequest(f"{path} must hold a mapping of settings")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise BadRequest(f"{path}: unknown setting(s) {', '.join(unknown)}")
        config = cls(**raw)
        if not isinstance(config.max_crate_size, int) or config.max_crate_size <= 0:
            raise BadRequest(f"{path}: max_crate_size must be a positive number of bytes")
        if not isinstance(config.allowed_registries, list):
            raise BadRequest(f"{path}: allowed_registries must be a list of index URLs")
        return config

    def save(self, path: Path) -> None:
        """Write the config file atomically."""
        atomic_write(path, yaml.safe_dump(asdict(self), sort_keys=False).encode("utf-8"))


def _strip(url: str) -> str:
    return url.rstrip("/")
