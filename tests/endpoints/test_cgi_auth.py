"""The cluster's `authenticationURL` answers exactly AUTHORIZED / UN-AUTHORIZED (REAL_WIRE §6.2)."""

from __future__ import annotations

import ssl
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from harness.events import EventLog
from harness.services.https import HttpsServicesEndpoint
from tests.endpoints.conftest import SelfSigned

PATH = "/ccmcip/authenticate.jsp"


@pytest.fixture
def server(tomcat: SelfSigned, events: EventLog) -> Iterator[HttpsServicesEndpoint]:
    endpoint = HttpsServicesEndpoint(tomcat, events)
    endpoint.start()
    endpoint.authenticator.allow("labuser", "s3cret pass")
    yield endpoint
    endpoint.stop()


def call(url: str, fields: dict[str, str], *, post: bool,
         context: ssl.SSLContext | None = None) -> bytes:
    query = urllib.parse.urlencode(fields)
    request = (urllib.request.Request(url, data=query.encode(), method="POST") if post
               else urllib.request.Request(f"{url}?{query}"))
    with urllib.request.urlopen(request, timeout=5, context=context) as reply:
        assert reply.status == 200
        return bytes(reply.read())


@pytest.mark.parametrize("post", [True, False])
def test_plain_http_answers_exactly(server: HttpsServicesEndpoint, events: EventLog,
                                    post: bool) -> None:
    host, port = server.http_address
    url = f"http://{host}:{port}{PATH}"
    good = {"UserID": "labuser", "Password": "s3cret pass", "devicename": "SEP001122334455"}
    assert call(url, good, post=post) == b"AUTHORIZED"
    for bad in ({**good, "Password": "s3cret"}, {**good, "UserID": "other"},
                {**good, "Password": ""}, {"devicename": "SEP001122334455"}, {}):
        assert call(url, bad, post=post) == b"UN-AUTHORIZED"
    auth = [e for e in events.since(0) if e.kind == "https.auth"]
    assert [e.data["result"] for e in auth] == ["AUTHORIZED"] + ["UN-AUTHORIZED"] * 5
    assert {k: auth[0].data[k] for k in ("device", "user", "result")} == {
        "device": "SEP001122334455", "user": "labuser", "result": "AUTHORIZED"}
    assert not any("s3cret" in repr(e.data) for e in events.since(0))


def test_https_get_answers_too_and_nobody_is_authorized_by_default(
        tomcat: SelfSigned, events: EventLog) -> None:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # CUCM 8 offers RSA AES-CBC-SHA only
    endpoint = HttpsServicesEndpoint(tomcat, events)
    endpoint.start()
    try:
        fields = {"UserID": "", "Password": "", "devicename": "SEP001122334455"}
        url = f"https://127.0.0.1:{endpoint.address[1]}{PATH}"
        assert call(url, fields, post=False, context=context) == b"UN-AUTHORIZED"
        endpoint.authenticator.allow("u", "p")
        assert call(url, {**fields, "UserID": "u", "Password": "p"}, post=False,
                    context=context) == b"AUTHORIZED"
    finally:
        endpoint.stop()


def test_plain_listener_keeps_its_port_across_restart_and_404s_elsewhere(
        server: HttpsServicesEndpoint) -> None:
    before = server.http_address
    server.restart()
    assert server.http_address == before
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"http://{before[0]}:{before[1]}/services", timeout=5)
    assert caught.value.code == 404
