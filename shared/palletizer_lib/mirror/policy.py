"""The dependency-confusion rule: a new crate here may not take a name the upstream has, in any spelling
crates.io counts as the same name, unless the administrator allowed it (`allowed_names` in config.yaml)."""

import itertools
import re

from palletizer_lib.disk.files import exclusive_lock
from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.errors import Forbidden, UpstreamError
from palletizer_lib.domain.names import normalise, validate_name
from palletizer_lib.mirror.cache import Mirror
from palletizer_lib.mirror.shadowing import IsLocal
from palletizer_lib.settings.config import RegistryConfig

MAX_SPELLING_PROBES = 64


def spellings(name: str) -> list[str] | None:
    """`name` with its `-` and `_` in every mix (as spelt first, then all `-`, then all `_`), as crates.io
    counts them one name; None if there are more than `MAX_SPELLING_PROBES`."""
    parts = re.split(r"[-_]", name)
    if 2 ** (len(parts) - 1) > MAX_SPELLING_PROBES:
        return None
    found = dict.fromkeys((name, name.replace("_", "-"), name.replace("-", "_")))
    for mix in itertools.product("-_", repeat=len(parts) - 1):
        found[parts[0] + "".join(sep + part for sep, part in zip(mix, parts[1:], strict=True))] = None
    return list(found)


def check_new_name(config: RegistryConfig, layout: Layout, is_local: IsLocal, name: str) -> None:
    """Refuse (`Forbidden`) a new crate `name` the upstream of `config` (in the data directory of `layout`,
    publishing the names `is_local` says) has in any spelling crates.io counts as the same name (`-` and `_`
    alike, any case), unless the administrator allowed it (`allowed_names` in config.yaml, read afresh);
    `UpstreamError` if the upstream cannot say. A name with more `-`/`_` mixes than `MAX_SPELLING_PROBES`
    cannot be checked, so it needs allowing too."""
    allowed = {normalise(n) for n in RegistryConfig.load(layout.config).allowed_names}
    if normalise(name) in allowed:
        return
    how = f"An administrator can allow it with `palletizer allow-name {name}` (allowed_names in config.yaml)"
    names = spellings(name)
    if names is None:
        raise Forbidden(
            f"crate `{name}` cannot be checked against the upstream registry: with its `-` and `_` it "
            f"has more than {MAX_SPELLING_PROBES} spellings crates.io counts as one name. {how}"
        )
    mirror = Mirror(config, layout, is_local)
    try:
        found = mirror.catalog.holds(normalise(name))
        for spelling in names:
            if found is not None:
                break
            try:
                if mirror.upstream_index_file(spelling) is not None:
                    found = spelling
            except UpstreamError as exc:
                raise UpstreamError(
                    f"cannot publish the new crate `{name}`: whether the upstream registry "
                    f"has it could not be checked ({exc.detail})"
                ) from exc
    finally:
        mirror.upstream.close()
    if found is not None:
        raise Forbidden(
            f"crate `{name}` exists on the upstream registry {config.upstream} (as `{found}`): a new "
            "crate of that name here would take its place for everyone using this registry (dependency "
            f"confusion). {how}"
        )


def allow_name(layout: Layout, name: str) -> bool:
    """Let a new crate `name` be published here though the upstream has it (recorded in `allowed_names`,
    under the registry lock of the data directory of `layout`); False if it already was allowed."""
    validate_name(name)
    with exclusive_lock(layout.lock):
        config = RegistryConfig.load(layout.config)
        if normalise(name) in {normalise(n) for n in config.allowed_names}:
            return False
        config.allowed_names.append(name)
        config.save(layout.config)
    return True
