"""Where things live in a data directory.

config.yaml           registry settings (RegistryConfig)
index.git/            bare git repository: the source of truth for the index
index.git.migrating/  the git index `migrate` is preparing, put in place of index.git/ when it is done
index.git.before-migrate/  the git index a `migrate` replaced (set aside, for an operator to delete)
index/                the newest commit's files, served as the sparse index
index/.head           id of the commit `index/` was last brought up to date with
index-size.json       the index's size at one commit (IndexStats), so a new process need not recount
crates/NAME/NAME-VERSION.crate   the crate store's files (LocalCrateStore), by key NAME/NAME-VERSION.crate
names/NORMALISED.json one summary per crate, keyed by its normalised name: its name and shown version
accounts.sqlite3      users, token hashes, crate owners, the audit log
catalog.sqlite3       per version: publish time, publisher, description, README, links; downloads;
                      the search table (each crate's name, shown version, description, newest publication)
pending               the crate file a publish is writing (cleared once committed)
orphans/              crate files no index entry named, set aside by `verify --repair`
lock                  the write lock every writer holds (flock); says `held` while held, `free` after
mirror/               what is cached from the upstream registry (`upstream` in config.yaml):
mirror/config.json    its config.json
mirror/index/PATH     one index file per crate: a JSON line (validators), then the file; its mtime is
                      when it was last fetched or revalidated
mirror/crates/NAME/NAME-VERSION.crate   crate files, stored once their checksum matched
mirror/catalog.sqlite3  one row per cached file: crate name and shown version, size, last use (MirrorCatalog)
mirror/catalog.lock   held while the catalog is first made from the files of an older cache
mirror/locks/NN.lock  the locks of crate fetches (a fixed number, a crate version hashed to one)
"""

import zlib
from dataclasses import dataclass
from pathlib import Path

from palletizer_lib.domain.names import crate_key, index_path, normalise

MIRROR_LOCK_STRIPES = 64


@dataclass(frozen=True)
class Layout:
    """Paths inside one data directory."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def git(self) -> Path:
        return self.root / "index.git"

    @property
    def git_staged(self) -> Path:
        return self.root / "index.git.migrating"

    @property
    def git_set_aside(self) -> Path:
        return self.root / "index.git.before-migrate"

    @property
    def index(self) -> Path:
        return self.root / "index"

    @property
    def index_head(self) -> Path:
        return self.index / ".head"

    @property
    def index_size(self) -> Path:
        return self.root / "index-size.json"

    @property
    def crates(self) -> Path:
        return self.root / "crates"

    @property
    def names(self) -> Path:
        return self.root / "names"

    @property
    def pending(self) -> Path:
        return self.root / "pending"

    @property
    def orphans(self) -> Path:
        return self.root / "orphans"

    @property
    def catalog(self) -> Path:
        return self.root / "catalog.sqlite3"

    @property
    def accounts(self) -> Path:
        return self.root / "accounts.sqlite3"

    @property
    def private_files(self) -> list[Path]:
        """The files of settings and private data (token hashes, private crates' metadata) that only the
        registry's own user may read: config.yaml and the SQLite databases (SQLite gives a database's
        `-wal` and `-shm` files the database's own permissions)."""
        return [self.config, self.accounts, self.catalog]

    @property
    def lock(self) -> Path:
        return self.root / "lock"

    @property
    def mirror(self) -> Path:
        return self.root / "mirror"

    def mirror_index_file(self, name: str) -> Path:
        """The cached upstream index file of crate `name` (lowercase path, as the upstream serves it)."""
        return self.mirror / "index" / index_path(name)

    def mirror_crate_file(self, name: str, version: str) -> Path:
        """A cached upstream .crate (name and version must already be validated)."""
        return self.mirror / "crates" / crate_key(name, version)

    def mirror_lock(self, name: str, version: str) -> Path:
        """The lock file held while one upstream crate version is fetched: one of `MIRROR_LOCK_STRIPES`,
        so that their number stays fixed however many crates are fetched."""
        stripe = zlib.crc32(f"{normalise(name)} {version}".encode()) % MIRROR_LOCK_STRIPES
        return self.mirror / "locks" / f"{stripe:02x}.lock"

    def index_file(self, name: str) -> Path:
        """The sparse index file of crate `name`."""
        return self.index / index_path(name)

    def crate_file(self, name: str, version: str) -> Path:
        """The stored .crate of one version (name and version must already be validated)."""
        return self.crates / crate_key(name, version)

    def summary_file(self, name: str) -> Path:
        """The summary of crate `name`, found from any spelling of it."""
        return self.names / f"{normalise(name)}.json"
