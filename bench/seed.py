"""Registries of many crates, made quickly through the library (not HTTP), as real publishes would make them.

Each crate is published with `Registry.publish` (one git commit each, loose objects and all), with
`os.fsync` skipped while seeding: durability of the seed does not matter, and it is the bulk of the time.
"""

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.names import is_valid_name, normalise
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cratekit import crate_for, dep, metadata

SYLLABLES = (
    "ser",
    "de",
    "to",
    "kio",
    "rand",
    "core",
    "log",
    "http",
    "hy",
    "per",
    "syn",
    "quo",
    "te",
    "proc",
    "ma",
    "cro",
    "fu",
    "tures",
    "byte",
    "s",
    "reg",
    "ex",
    "clap",
    "an",
    "yhow",
    "thiser",
    "ror",
    "par",
    "king",
    "lot",
    "once",
    "cell",
    "lib",
    "c",
    "num",
    "traits",
    "itoa",
    "ryu",
    "memchr",
    "url",
    "time",
    "chrono",
    "uuid",
    "base",
    "64",
    "sha",
    "2",
    "hex",
    "json",
    "toml",
    "yaml",
    "mio",
    "net",
    "io",
)
VERSIONS = ("0.1.0", "0.1.1", "0.2.0", "1.0.0", "1.0.1", "1.1.0")
SEED_URL = "http://seed.invalid"


def crate_names(count: int, seed: int = 7) -> list[str]:
    """`count` distinct, plausible crate names (`-` and `_` mixed in), in a fixed pseudo-random order."""
    rng = random.Random(seed)
    names: dict[str, str] = {}
    while len(names) < count:
        words = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(1, 3))]
        name = rng.choice("-_").join(words)
        if is_valid_name(name):
            names.setdefault(normalise(name), name)
    return list(names.values())


@contextmanager
def no_fsync() -> Iterator[None]:
    """Skip `os.fsync` (seeding only)."""
    with mock.patch.object(os, "fsync", lambda fd: None):
        yield


def entry_metadata(name: str, version: str, deps: list[str]) -> dict:
    """Publish metadata with a few features and the given dependencies (index entries of realistic size)."""
    return metadata(
        name,
        version,
        deps=[dep(d, "^0.1") for d in deps],
        features={"default": ["std"], "std": [], "extra": [f"{d}/std" for d in deps[:1]]},
        description=f"{name}: a crate of the benchmark registry",
    )


def own_index(registry: Registry) -> str:
    """The registry's own index URL, as the packaged Cargo.toml of a crate depending on its crates names it
    (`config.json` first pointed at SEED_URL if no server wrote it yet; a server points it at itself)."""
    if not registry.own_index_urls():
        registry.set_urls(registry.config.served_urls(SEED_URL))
    return registry.own_index_urls()[0]


def seeded_registry(data: Path, count: int, versions: int = 1, config: RegistryConfig | None = None) -> Registry:
    """A new registry in `data` with `count` crates of `versions` versions each (a few dependencies each)."""
    registry = Registry.create(data, config or RegistryConfig())
    names = crate_names(count)
    index_url = own_index(registry)
    with no_fsync():
        for i, name in enumerate(names):
            deps = names[i + 1 : i + 3]
            for version in VERSIONS[:versions]:
                meta = entry_metadata(name, version, deps)
                registry.publish(meta, crate_for(meta, index_url=index_url))
    return registry
