"""The mirror of a test registry's upstream, made as the services and the command line make it, and the
registry a mirror serves, opened again from its data directory."""

from typing import Any

from palletizer_lib.core.registry import Registry
from palletizer_lib.mirror.cache import Mirror
from palletizer_lib.mirror.upstream import Upstream


def mirror_of(registry: Registry, upstream: Upstream | None = None, **options: Any) -> Mirror:
    """The mirror of `registry`'s upstream (through `upstream` if given), with `Mirror`'s other `options`."""
    return Mirror(registry.config, registry.layout, registry.is_local, upstream, **options)


def registry_of(mirror: Mirror) -> Registry:
    """The registry whose upstream `mirror` mirrors."""
    return Registry(mirror.layout.root)
