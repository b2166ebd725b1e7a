"""`palletizer-all`: the api, index and files services in one process."""

import sys
from collections.abc import Sequence

from palletizer_lib.core.composition import Site
from palletizer_services import command_line
from palletizer_services.api import app as api
from palletizer_services.base_app import WebApp, create_app
from palletizer_services.files import app as files
from palletizer_services.index import app as index
from palletizer_services.index import git

PROG = "palletizer-all"


def create(site: Site) -> WebApp:
    """The three services in one app."""
    app = create_app(site, index_size=True, downloads=True)
    for service in (api, index, files):
        service.add_routes(app, site)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `palletizer-all`."""
    return command_line.main(
        PROG, argv, create, writes_config=True, max_body=api.publish_body_limit, bodies=(*api.BODIES, *git.BODIES)
    )


if __name__ == "__main__":
    sys.exit(main())
