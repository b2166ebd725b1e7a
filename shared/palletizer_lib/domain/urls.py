"""Every URL shape of the registry: the served URLs, the index's `config.json`, where crates are downloaded,
the index URLs cargo is configured with, and where `cargo login` is sent."""

import json
from dataclasses import dataclass

from palletizer_lib.domain.names import crate_key

# crates.io's index, as cargo names it in a dependency, and the other URLs that mean it.
CRATES_IO_INDEX = "https://github.com/rust-lang/crates.io-index"
CRATES_IO_ALIASES = frozenset({CRATES_IO_INDEX, "sparse+https://index.crates.io/"})
INDEX_PATH = "/index/"
GIT_INDEX_PATH = "/git/index"
GIT_PREFIX = "/git/"
FILES_PATH = "/files/"
LOGIN_PATH = "/me"
PUBLISH_PATH = "/api/v1/crates/new"
# The part of `dl` after the downloads' root: cargo fills in the crate and the version.
DL_PATH = crate_key("{crate}", "{version}")
PUBLIC_URL_KEY = "public-url"
# Where the same index is read straight from the bucket, when it is (for `add`, like the public URL).
BUCKET_INDEX_KEY = "bucket-index"


def strip(url: str) -> str:
    """`url` without its trailing slashes (a root the shapes below append to)."""
    return url.rstrip("/")


def sparse_index_url(root: str) -> str:
    """The sparse index of the registry served at `root`: `sparse+ROOT/index/`."""
    return f"sparse+{strip(root)}{INDEX_PATH}"


def git_index_url(root: str) -> str:
    """The git index of the registry served at `root`: `ROOT/git/index`."""
    return f"{strip(root)}{GIT_INDEX_PATH}"


def root_of_index(index_url: str) -> str | None:
    """The root of an index URL of this registry's shapes (`sparse+ROOT/index/`, `ROOT/git/index`), if it
    has one of them."""
    if index_url.startswith("sparse+") and index_url.rstrip("/").endswith(INDEX_PATH.rstrip("/")):
        root = index_url.removeprefix("sparse+").rstrip("/").removesuffix(INDEX_PATH.rstrip("/"))
    elif index_url.rstrip("/").endswith(GIT_INDEX_PATH):
        root = index_url.rstrip("/").removesuffix(GIT_INDEX_PATH)
    else:
        return None
    scheme, _, host = root.partition("://")
    return root if scheme in ("http", "https") and host else None


def dl_template(downloads_root: str) -> str:
    """`config.json`'s `dl`: the crate files under `downloads_root`."""
    return f"{strip(downloads_root)}/{DL_PATH}"


def login_url(api_root: str) -> str:
    """Where `cargo login` sends people for a token: the `/me` of the web API at `api_root`."""
    return f"{strip(api_root)}{LOGIN_PATH}"


@dataclass(frozen=True)
class ServedUrls:
    """Where cargo reaches the registry (roots, no trailing slash): the index, the web API, downloads."""

    public: str
    api: str
    files: str
    bucket_index: str | None = None
    bucket_crates: str | None = None

    @property
    def dl(self) -> str:
        """`config.json`'s download template: the files service's, or the bucket's when cargo reads from it."""
        return dl_template(self.bucket_crates or f"{self.files}{FILES_PATH}")

    @property
    def login_url(self) -> str:
        """Where `cargo login` sends people for a token: the web API's `/me`."""
        return login_url(self.api)

    def index_urls(self) -> list[str]:
        """The index URLs cargo may use for this registry (a manifest's dependencies name one of them)."""
        bucket = [f"sparse+{self.bucket_index}"] if self.bucket_index else []
        return [sparse_index_url(self.public), git_index_url(self.public), *bucket]


def served_urls(
    fallback_public: str,
    public_url: str | None = None,
    api_url: str | None = None,
    files_url: str | None = None,
    bucket: tuple[str, str] | None = None,
) -> ServedUrls:
    """The URLs from the first given of each (an option, then `config.yaml`): the public URL defaults to
    `fallback_public`, the API's and the files' to the public URL; `bucket` is where cargo reads the index
    and the crate files straight from the bucket (its `index/` and `crates/` URLs), if it does."""
    public = strip(public_url or fallback_public)
    index, crates = bucket or (None, None)
    return ServedUrls(public, strip(api_url or public), strip(files_url or public), index, crates and strip(crates))


def config_json(urls: ServedUrls, auth_required: bool) -> bytes:
    """The index's `config.json`: where cargo downloads crates (`dl`) and finds the web API (`api`),
    and `auth-required` when every read needs a token.

    It also records the public URL (cargo ignores keys it does not know), by which `add`
    recognises dependencies on this registry in a packaged Cargo.toml.
    """
    document: dict[str, str | bool] = {"dl": urls.dl, "api": urls.api, PUBLIC_URL_KEY: urls.public}
    if urls.bucket_index:
        document[BUCKET_INDEX_KEY] = urls.bucket_index
    if auth_required:
        document["auth-required"] = True
    return json.dumps(document, indent=2).encode() + b"\n"


def from_config_json(content: bytes | None) -> ServedUrls | None:
    """The served URLs a committed `config.json` names (None if there is none, or it names no API).
    One written before the API could be served apart has no public URL: its `api` is."""
    try:
        document = json.loads(content) if content is not None else None
    except ValueError:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("api"), str):
        return None
    api: str = document["api"]
    named_public = document.get(PUBLIC_URL_KEY)
    public = named_public if isinstance(named_public, str) else api
    dl = document.get("dl")
    suffix = f"{FILES_PATH}{DL_PATH}"
    files = dl[: -len(suffix)] if isinstance(dl, str) and dl.endswith(suffix) else public
    bucket_index = document.get(BUCKET_INDEX_KEY)
    bucket_crates = dl[: -len(DL_PATH)] if isinstance(bucket_index, str) and isinstance(dl, str) else None
    return ServedUrls(
        strip(public),
        strip(api),
        strip(files),
        bucket_index if isinstance(bucket_index, str) else None,
        strip(bucket_crates) if bucket_crates else None,
    )


def static_config(downloads_root: str, api_url: str | None) -> bytes:
    """The `config.json` of an exported static registry: downloads under `downloads_root`, the web API at
    `api_url` if given."""
    document = {"dl": dl_template(downloads_root)}
    if api_url:
        document["api"] = api_url
    return json.dumps(document, indent=2).encode() + b"\n"
