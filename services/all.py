"""`palletizer-all`: the api, index and files services in one process."""

import sys
from collections.abc import Sequence

from palletizer_lib.errors import PalletizerError
from services import serve
from services.api import app as api
from services.files import app as files
from services.http import create_app
from services.index import app as index

PROG = "palletizer-all"


def cargo_config_snippet(public_url: str) -> str:
    """What a user pastes into `.cargo/config.toml` to use this registry."""
    return (
        "[registries.palletizer]\n"
        f'index = "sparse+{public_url}/index/"\n'
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `palletizer-all`."""
    args = serve.parse_args(PROG, argv)
    try:
        registry, public_url = serve.open_registry(args)
    except PalletizerError as error:
        return serve.fail(PROG, error)
    app = create_app()
    for service in (api, index, files):
        service.add_routes(app, registry)
    print(
        f"Palletizer is serving the registry in {args.data} at {public_url}\n\n"
        f"Add this to .cargo/config.toml:\n\n{cargo_config_snippet(public_url)}\n"
        "Then: cargo publish --registry palletizer (tokens are not checked yet: "
        "`cargo login --registry palletizer anything` once)\n",
        file=sys.stderr, flush=True,
    )
    serve.run(app, args, api.max_publish_body(registry))
    return 0


if __name__ == "__main__":
    sys.exit(main())
