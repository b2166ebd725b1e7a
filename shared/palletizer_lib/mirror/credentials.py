"""The user and password the mirror sends its upstream (HTTP Basic authentication), kept out of config.yaml:
in `upstream-credentials` in the data directory (one line `USER:PASSWORD`, mode 0600), never shown."""

from pathlib import Path

from palletizer_lib.disk.files import atomic_write
from palletizer_lib.domain.errors import BadRequest
from palletizer_lib.settings.permissions import PRIVATE_FILE_MODE

FILE_NAME = "upstream-credentials"


def credentials_path(root: Path) -> Path:
    """Where the upstream's credentials are kept in the data directory `root`."""
    return root / FILE_NAME


def save_credentials(root: Path, credentials: tuple[str, str]) -> None:
    """Keep `credentials` (user, password) in `root`, readable only by their owner (0600 from creation)."""
    user, password = credentials
    if ":" in user or any(c in user + password for c in "\r\n"):
        raise BadRequest("the upstream's user must not contain `:`, nor either a line break")
    atomic_write(credentials_path(root), f"{user}:{password}\n".encode(), mode=PRIVATE_FILE_MODE)


def load_credentials(root: Path) -> tuple[str, str] | None:
    """The (user, password) kept in `root`, or None if there are none."""
    path = credentials_path(root)
    try:
        line = path.read_text(encoding="utf-8").strip("\r\n")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadRequest(f"could not read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    user, colon, password = line.partition(":")
    if not colon:
        raise BadRequest(f"{path} must hold one line USER:PASSWORD")
    return user, password
