"""Where a registry's data directory is when none is named: the one default of the CLI and every server."""

import os

DEFAULT_DATA = "./data"
DATA_HELP = "the registry's data directory (default: $PALLETIZER_DATA, then ./data)"


def default_data_dir() -> str:
    """`$PALLETIZER_DATA`, else `./data`."""
    return os.environ.get("PALLETIZER_DATA") or DEFAULT_DATA
