"""Query parameters read strictly: a value that is not what the route takes is a `400` in Cargo's error JSON
(BadRequest), never a 500 or a silent guess.

Every reader checks, once per request, that the whole query string is UTF-8 once percent-decoded (Falcon
would turn bad bytes into U+FFFD), then that its parameter is given at most once and holds no control
character; text is bounded in length and numbers in digits and range.
"""

import re
from urllib.parse import unquote_to_bytes

import falcon

from palletizer_lib.domain.errors import BadRequest

MAX_TEXT = 256
MAX_DIGITS = 9
DEFAULT_PER_PAGE = 10  # crates.io's page sizes (`per_page`)
MAX_PER_PAGE = 100
_CHECKED = "query_string_checked"
_DIGITS = re.compile(r"[0-9]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def query_text(req: falcon.Request, name: str, default: str = "", max_length: int = MAX_TEXT) -> str:
    """The text of query parameter `name` (`default` if absent), at most `max_length` characters."""
    value = _single(req, name)
    if value is None:
        return default
    if len(value) > max_length:
        raise BadRequest(
            f"the query parameter `{name}` is {len(value)} characters long; at most {max_length} are accepted"
        )
    if _CONTROL.search(value):
        raise BadRequest(f"the query parameter `{name}` holds a control character")
    return value


def query_int(req: falcon.Request, name: str, default: int, minimum: int, maximum: int = 10**MAX_DIGITS - 1) -> int:
    """The whole number in query parameter `name` (`default` if absent), from `minimum` to `maximum`."""
    value = _single(req, name)
    if value is None:
        return default
    expected = f"the query parameter `{name}` must be a whole number from {minimum} to {maximum}"
    if len(value) > MAX_DIGITS or not _DIGITS.fullmatch(value):
        raise BadRequest(f"{expected}, not {_shown(value)}")
    number = int(value)
    if not minimum <= number <= maximum:
        raise BadRequest(f"{expected}, not {number}")
    return number


def _single(req: falcon.Request, name: str) -> str | None:
    _check_query_string(req)
    value = req.params.get(name)
    if isinstance(value, list):
        raise BadRequest(f"the query parameter `{name}` is given {len(value)} times; give it once")
    return value


def _check_query_string(req: falcon.Request) -> None:
    if req.context.get(_CHECKED):
        return
    try:
        unquote_to_bytes(req.query_string.encode("latin-1")).decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError) as exc:
        raise BadRequest("the query string is not UTF-8 (percent-encode the UTF-8 bytes of each character)") from exc
    req.context[_CHECKED] = True


def _shown(value: str) -> str:
    """`value` quoted for an error message, cut short if long."""
    return repr(value if len(value) <= 20 else value[:20] + "...")
