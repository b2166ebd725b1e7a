"""Read access, declared on each resource: under `auth_required`, a request needs a `read` token when its
resource's `read_methods` hold its method (the index, downloads, git, search, metrics and crates.io's read
endpoints declare theirs)."""

from typing import ClassVar

import falcon

from palletizer_lib.core.access import Access

EVERY_METHOD = frozenset(falcon.COMBINED_METHODS)
READS = frozenset({"GET", "HEAD"})


class NeedsRead:
    """A resource every method of which needs a `read` token."""

    read_methods: ClassVar[frozenset[str]] = EVERY_METHOD


class GetNeedsRead:
    """A resource whose GET and HEAD need a `read` token (its writes check their own scopes)."""

    read_methods: ClassVar[frozenset[str]] = READS


class ReadAccess:
    """Middleware: checks the `read` token of a request whose resource declares its method in
    `read_methods` (a route with no resource, or one that declares nothing, needs none)."""

    def __init__(self, access: Access) -> None:
        self._access = access

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: object, params: dict[str, object]
    ) -> None:
        if req.method in getattr(resource, "read_methods", ()):
            self._access.check_read(req.auth, req.remote_addr)
