"""Requests refused from their headers: waitress's parser, guarded (`GuardedParser`), and its error task
rendering every answer waitress gives itself as every other error (`ErrorTask`)."""

import io

from waitress.adjustments import Adjustments
from waitress.parser import HTTPRequestParser
from waitress.receiver import FixedStreamReceiver
from waitress.task import ErrorTask as WaitressErrorTask
from waitress.utilities import Error

from palletizer_lib.domain.errors import Forbidden, PalletizerError
from palletizer_lib.settings.client_address import TrustedProxies
from palletizer_services.bodies import BodyPolicy
from palletizer_services.error_response import ErrorResponse, render, render_error

# A refused request's body up to this size is read and discarded, so that a client sending it without
# waiting for `100 Continue` (curl waits for bodies over 1 MiB) reads the answer; a larger one is not read.
DRAIN_LIMIT = 1024 * 1024


class Refusal(Error):
    """A request refused from its headers, with its answer (`error_response.render_error`)."""

    def __init__(self, answer: ErrorResponse) -> None:
        super().__init__(answer.body.decode())
        self.code = answer.status
        self.answer = answer


class ErrorTask(WaitressErrorTask):
    """waitress's answer to a request it does not pass to the app (a refusal, a malformed request, too
    large a body, an exception in the app), rendered as every other error (`error_response`)."""

    def execute(self) -> None:
        """Write the error's answer and close the connection after it."""
        error = self.request.error
        assert error is not None, "waitress makes an error task only for a request with an error"
        answer = error.answer if isinstance(error, Refusal) else render(error.code, f"{error.reason}: {error.body}")
        self.status = answer.status_line
        self.response_headers.extend(answer.headers)
        self.set_close_on_finish()
        self.content_length = len(answer.body)
        self.write(answer.body)


class _Discarded:
    """A request body buffer that keeps nothing: the body of a refused request is read past, not stored."""

    def __init__(self) -> None:
        self._length = 0

    def append(self, data: bytes) -> None:
        self._length += len(data)

    def __len__(self) -> int:
        return self._length

    def getfile(self) -> io.BytesIO:
        return io.BytesIO()

    def close(self) -> None:
        pass


class GuardedParser(HTTPRequestParser):
    """waitress's request parser, which refuses a request as soon as its headers are in: a client the
    listener does not allow, or what `BodyPolicy` refuses (a body where none is taken, too large a body,
    a publish without a publishing token). A refused request's answer is its error; a body of at most
    DRAIN_LIMIT bytes is read and discarded first (so the client, still sending it, reads the answer), a
    larger or chunked one is not read at all, and the connection closes after the answer. `client` is the
    request's client (`trusted.client`), known once the headers are in."""

    def __init__(
        self, adj: Adjustments, peer: str, policy: BodyPolicy | None, allowed: bool, trusted: TrustedProxies
    ) -> None:
        super().__init__(adj)
        self.peer = self.client = peer
        self.trusted = trusted
        self.policy = policy
        self.allowed = allowed
        self._checked = False

    def received(self, data: bytes) -> int:
        """Consume data; once the headers are complete, decide whether the request goes on."""
        consumed = super().received(data)
        if self.headers_finished and not self._checked:
            self._checked = True
            self.client = self.trusted.client(self.peer, self.headers.get("X_FORWARDED_FOR"))
            if not self.empty and self.error is None:
                self._check()
            if self.error is not None:
                # waitress would send `100 Continue` to a request it refuses itself, then wait for its body.
                self.expect_continue = False
        return consumed

    def _check(self) -> None:
        try:
            if not self.allowed:
                raise Forbidden(f"this server does not accept clients from {self.peer} on this address")
            if self.policy is not None:
                length = None if self.chunked else self.content_length
                self.policy.check(self.command, self.path, self.headers, length, self.client)
        except PalletizerError as error:
            answer = (
                self.policy.refusal(error, self.path)
                if self.policy is not None
                else render_error(error, self.path, None)
            )
            self._refuse(Refusal(answer))

    def _refuse(self, error: Refusal) -> None:
        drain = (
            not self.completed and not self.chunked and not self.expect_continue and self.content_length <= DRAIN_LIMIT
        )
        self.error = error
        self.expect_continue = False
        self.connection_close = True
        if self.body_rcv is not None:
            self.body_rcv.getbuf().close()
            self.body_rcv = None
        if drain:
            self.body_rcv = FixedStreamReceiver(self.content_length, _Discarded())
        else:
            self.completed = True
