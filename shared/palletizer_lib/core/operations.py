"""The registry's changes, as the web API, the command line and the importer make them, by an `Actor`.

Each change's consequences are written here once: who becomes an owner (the first publisher, or the
`--owner` of an add, or with `claim_ownerless_crates` the first publisher of a crate without owners; undone if
the publish fails), the audit row (under the crate's stored name) and the
catalog row. Authentication is `access.Access`'s; ownership is checked here.
"""

from dataclasses import dataclass

from palletizer_lib.core.actor import Actor
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import AlreadyPublished, CrateNotFound, Forbidden, NotFound
from palletizer_lib.domain.index_entry import IndexEntry
from palletizer_lib.domain.names import normalise
from palletizer_lib.domain.packaged_crate import PackagedCrate
from palletizer_lib.domain.versions import find_version
from palletizer_lib.stores.protocols import AccountStore, CatalogStore


@dataclass(frozen=True)
class VersionHistory:
    """What another registry knew of a version added here from its export: when it was first published (its
    index entry's `pubtime` and its catalog's time, each None if unknown), by whom, its downloads, its yank."""

    pubtime: float | None = None
    published: float | None = None
    publisher: str | None = None
    downloads: int = 0
    yanked: bool = False


class Operations:
    """Publish, add, yank, remove and change owners of one registry, each recorded in its stores."""

    def __init__(self, registry: Registry, accounts: AccountStore, catalog: CatalogStore) -> None:
        self.registry = registry
        self.accounts = accounts
        self.catalog = catalog

    def publish(self, actor: Actor, metadata: dict[str, object], crate: bytes | memoryview) -> IndexEntry:
        """Publish from cargo's metadata and .crate bytes: a new crate gets `actor` as owner, others need
        ownership. A name that still has owners (say, its versions were removed) stays theirs. A retried
        upload of the same bytes succeeds."""
        became_owner: list[str] = []
        claimed: list[str] = []

        def authorize(name: str, exists: bool) -> None:
            claimable = self.registry.config.claim_ownerless_crates and not actor.manages_every_crate
            if self.accounts.owners(name) or (exists and not claimable):
                self._check_owner(actor, name)
            else:
                self.accounts.add_owner(name, actor.name)
                became_owner.append(name)
                if exists:
                    claimed.append(name)

        try:
            entry, packaged = self.registry.publish_packaged(metadata, crate, authorize)
        except BaseException as exc:
            existed = isinstance(exc, AlreadyPublished)  # nothing new published: a claim is undone too
            for name in became_owner:
                if existed or not self.registry.is_published(name, str(metadata.get("vers"))):
                    self.accounts.remove_owner(name, actor.name)
            if not (isinstance(exc, AlreadyPublished) and exc.identical):
                raise
            entry = self._retried(metadata)
            # The first attempt may have failed after its commit, before the catalog (say, on a full disk).
            self.catalog.record_version(entry["name"], entry["vers"], actor.name, metadata)
            return entry
        for name in claimed:
            self.accounts.record(
                actor.name,
                "add owners",
                name,
                None,
                actor.address,
                f"{actor.name} (first publisher of a crate without owners)",
            )
        self.accounts.record(actor.name, "publish", entry["name"], entry["vers"], actor.address)
        self.catalog.record_version(
            entry["name"], entry["vers"], actor.name, {**metadata, "bin_names": packaged.bin_names}
        )
        return entry

    def add(
        self, actor: Actor, crate: bytes | memoryview, owner: str | None = None, history: VersionHistory | None = None
    ) -> IndexEntry:
        """Add a .crate file made elsewhere (read once), `owner` owning it if its crate had no owner yet;
        return its index entry. AlreadyPublished (`identical` if with these bytes) if the version exists.
        With `history` (from another registry's export), the version keeps its publication times, publisher,
        downloads and yank (added yanked in the same commit, and audited as a yank too)."""
        history = history or VersionHistory()
        packaged: PackagedCrate = self.registry.read(crate)
        pubtime = history.pubtime if history.pubtime is not None else history.published
        entry = self.registry.add(crate, packaged, published=pubtime, yanked=history.yanked)
        name, vers = entry["name"], entry["vers"]
        if owner and not self.accounts.owners(name):
            self.accounts.add_owner(name, owner)
        self.accounts.record(actor.name, "add", name, vers, actor.address)
        if history.yanked:
            self.accounts.record(actor.name, "yank", name, vers, actor.address)
        self.catalog.record_version(
            name,
            vers,
            history.publisher or actor.name,
            packaged.described(),
            published=history.published if history.published is not None else pubtime,
        )
        if history.downloads:
            self.catalog.add_downloads({(normalise(name), vers): history.downloads})
        return entry

    def restore_owners(self, actor: Actor, name: str, users: list[str]) -> list[str]:
        """Make `users` the owners of crate `name` if it has none (audited as `add owners`), first creating,
        without tokens, those that are no user yet (audited as `add user`); return the users created."""
        crate = self.existing(name)
        if not users or self.accounts.owners(crate):
            return []
        known = set(self.accounts.users())
        created = [user for user in dict.fromkeys(users) if user not in known]
        for user in created:
            self.accounts.add_user(user)
            self.accounts.record(actor.name, "add user", None, None, actor.address, user)
        self.accounts.change_owners(crate, list(dict.fromkeys(users)), True, actor=actor.name, address=actor.address)
        return created

    def set_yanked(self, actor: Actor, name: str, version: str, yanked: bool) -> str:
        """Yank or unyank as an owner (or admin, or the command line); return the crate's stored name."""
        crate = self.existing(name)
        self._check_owner(actor, crate)
        self.registry.set_yanked(crate, version, yanked)
        self.accounts.record(actor.name, "yank" if yanked else "unyank", crate, version, actor.address)
        return crate

    def remove(self, actor: Actor, name: str, version: str) -> str:
        """Delete a version, its crate file and its catalog row; return the crate's stored name."""
        crate = self.existing(name)
        self._check_owner(actor, crate)
        self.registry.remove(crate, version)
        self.accounts.record(actor.name, "remove", crate, version, actor.address)
        self.catalog.forget_version(crate, version)
        return crate

    def owners(self, name: str) -> list[str]:
        """The owners of a crate (any spelling): readable wherever reads are."""
        return self.accounts.owners(self.existing(name))

    def change_owners(self, actor: Actor, name: str, users: list[str], add: bool) -> str:
        """Add or remove owners as an owner (or admin, or the command line), all or none; a crate keeps at
        least one owner. The message is crates.io's (for an owner added at once, as crates.io adds a team)."""
        crate = self.existing(name)
        self._check_owner(actor, crate)
        self.accounts.change_owners(crate, users, add, actor=actor.name, address=actor.address)
        if not add:
            return "owners successfully removed"
        return ",".join(f"user {user} has been added as an owner of crate {crate}" for user in users)

    def check_user(self, user: str | None) -> None:
        """Refuse an owner-to-be that is no user, before anything is added."""
        if user is not None and user not in self.accounts.users():
            raise NotFound(f"no user `{user}` (create it with `palletizer user add {user}`)")

    def existing(self, name: str) -> str:
        """The stored name of crate `name` (any spelling); NotFound if there is none."""
        canonical = self.registry.canonical_name(name)
        if canonical is None:
            raise CrateNotFound(name)
        return canonical

    def _retried(self, metadata: dict[str, object]) -> IndexEntry:
        """The entry of a version published before with the same bytes."""
        name, vers = str(metadata["name"]), str(metadata["vers"])
        return find_version(name, self.registry.entries(name), vers)

    def _check_owner(self, actor: Actor, crate: str) -> None:
        if actor.manages_every_crate:
            return
        assert actor.identity is not None
        if not self.accounts.is_owner(crate, actor.identity.user_id):
            user = actor.identity.user
            if not self.accounts.owners(crate):
                raise Forbidden(
                    f"crate `{crate}` has no owner: an "
                    f"administrator makes you its first owner with `palletizer owner add {crate} {user}` "
                    f"(or `cargo owner --add {user} {crate}` with an admin token)"
                )
            raise Forbidden(
                f"`{user}` is not an owner of crate `{crate}`; an owner can add you "
                f"with `cargo owner --add {user} {crate}`"
            )
