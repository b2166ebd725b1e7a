"""The body of `cargo owner --add/--remove` (`PUT`/`DELETE /api/v1/crates/NAME/owners`): `{"users": [...]}`,
read as JSON whatever its `Content-Type` says (cargo sends `application/json`; `curl -d` sends a form type)."""

import json

from palletizer_lib.domain.errors import BadRequest

EXPECTED = 'expected a JSON body like {"users": ["login", ...]}'


def parse_owners_body(body: bytes) -> list[str]:
    """The logins of an owners request body; BadRequest if it is not `{"users": [one or more strings]}`."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"{EXPECTED}: the body is not JSON") from exc
    users = document.get("users") if isinstance(document, dict) else None
    if not isinstance(users, list) or not users or not all(isinstance(u, str) for u in users):
        raise BadRequest(EXPECTED)
    return users
