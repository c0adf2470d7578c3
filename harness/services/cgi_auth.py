"""The cluster's `authenticationURL`: may this user push keys to that phone?

A phone receiving `/CGI/Execute` (or `/CGI/Screenshot`) with HTTP Basic credentials
POSTs `UserID`, `Password` and `devicename` to the `authenticationURL` of its config
and accepts the request only if the body is exactly `AUTHORIZED` (docs/REAL_WIRE.md
§6.2; CUCM answers at `/ccmcip/authenticate.jsp`, GET query or POST form). phonelab
knows one lab user (from the topology's environment variables on hardware, generated
on the twin); every check is an `https.auth` event naming device, user and result —
never the password.
"""

from __future__ import annotations

import hmac

from harness.events import EventLog
from harness.services.http_wire import Request, Response

PATH = "/ccmcip/authenticate.jsp"
AUTHORIZED, UNAUTHORIZED = b"AUTHORIZED", b"UN-AUTHORIZED"


class Authenticator:
    """The lab's CGI users (user → password); empty: nobody is authorized."""

    def __init__(self, events: EventLog, source: str) -> None:
        self.events, self.source = events, source
        self._users: dict[str, str] = {}

    def allow(self, user: str, password: str) -> None:
        self._users[user] = password

    def check(self, user: str, password: str) -> bool:
        expected = self._users.get(user)
        return expected is not None and hmac.compare_digest(expected.encode(), password.encode())

    def answer(self, fields: dict[str, str], peer: str) -> bytes:
        """The exact body CUCM returns for these form fields; records `https.auth`."""
        user, device = fields.get("UserID", ""), fields.get("devicename", "")
        ok = self.check(user, fields.get("Password", ""))
        self.events.record("https.auth", source=self.source, address=peer, device=device,
                           user=user, result="AUTHORIZED" if ok else "UN-AUTHORIZED")
        return AUTHORIZED if ok else UNAUTHORIZED

    async def handle(self, request: Request) -> Response:
        """Plain-HTTP handler: the authentication page, 404 elsewhere."""
        if request.path != PATH:
            return Response(404, b"not found")
        if request.method not in ("GET", "POST"):
            return Response(405, b"method not allowed")
        if request.expects_continue:  # not produced with continue_ok=True; kept total
            return Response(400, b"bad request")
        return Response(200, self.answer(request.form(), request.peer))
