"""The one error hierarchy: every front end renders these the same way.

Each error carries the HTTP status the web API answers with; the CLI prints the
message on one line and exits non-zero.
"""


class PalletizerError(Exception):
    """Base of every error the library reports to a user."""

    status = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(PalletizerError):
    """The request or the input file is malformed."""

    status = 400


class InvalidCrate(BadRequest):
    """The published crate or its metadata breaks a rule of the registry."""


class NotFound(PalletizerError):
    """The crate, version or file does not exist."""

    status = 404


class CrateNotFound(NotFound):
    """The registry has no crate of that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"crate `{name}` does not exist in this registry")


class Conflict(PalletizerError):
    """The change collides with what the registry already holds."""

    status = 409


class RegistryExists(Conflict):
    """The directory to initialise already holds a registry."""


class AlreadyPublished(Conflict):
    """The version exists; `identical` if with the very same .crate bytes (a retried upload)."""

    def __init__(self, detail: str, identical: bool) -> None:
        super().__init__(detail)
        self.identical = identical


class LengthRequired(PalletizerError):
    """A request whose body must be sized up front came without a Content-Length."""

    status = 411


class UnsupportedMediaType(PalletizerError):
    """The request body is not of the media type the resource takes."""

    status = 415


class PayloadTooLarge(PalletizerError):
    """The request body is larger than the configured limit."""

    status = 413


class Forbidden(PalletizerError):
    """The registry's policy refuses the change."""

    status = 403


class NotImplementedYet(PalletizerError):
    """A part of Cargo's web API this registry does not offer."""

    status = 501


class StorageError(PalletizerError):
    """The data directory could not be read or written."""

    status = 500


class Unavailable(PalletizerError):
    """The registry cannot serve right now (its data directory is unusable)."""

    status = 503


class UpstreamError(PalletizerError):
    """The upstream registry a mirrored crate comes from failed, timed out or answered something unusable."""

    status = 502


class UpstreamBusy(UpstreamError):
    """The upstream registry is not asked right now (it failed moments ago, or enough requests already wait
    on it): try again in `retry_after` seconds (sent as `Retry-After`)."""

    status = 503

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unauthorized(PalletizerError):
    """No valid token came with a request that needs one."""

    status = 401


class TooManyRequests(PalletizerError):
    """The client failed too often and must wait `retry_after` seconds (sent as `Retry-After`)."""

    status = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
