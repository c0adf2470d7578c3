"""The twin phone's web server: `/CGI/Execute` and `/DeviceInformationX` (docs/REAL_WIRE.md §6).

Hardware is driven through the phone's HTTP interface, so the twin offers the same
one on its own loopback address and the harness's `CgiKeypad` runs unchanged
against both (docs/ARCHITECTURE.md principle 1). Like the firmware (§6.2): credentials
come as HTTP Basic and are checked by POSTing `UserID`/`Password`/`devicename` to the
`authenticationURL` of the accepted config, whose body must be exactly `AUTHORIZED`
(else `CiscoIPPhoneError Number="4"`); an empty URL accepts everyone; malformed
`XML` → 1; `Expect: 100-continue` → 6; `webAccess` 1 → no web server (the connection
is dropped); an unpowered phone answers nothing. `Priority` is not modelled: every
item runs at once, as Priority 0 does. Served by `harness.services.http_wire` on the
twin's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from harness.services.http_wire import PlainHttpServer, Request, Response, post_form

if TYPE_CHECKING:
    from phone_drivers.emulator.phone import TwinPhone

STANDARD_PORT = 80
MAX_ITEMS = 3  # ExecuteItems per CiscoIPPhoneExecute (§6.2)
AUTH_TIMEOUT = 5.0
ERROR_PARSE, ERROR_AUTH, ERROR_EXPECT = 1, 4, 6


class PhoneWebServer:
    """One twin phone's HTTP interface; `start()` on the phone's loop."""

    def __init__(self, phone: TwinPhone) -> None:
        self.phone = phone
        self._server = PlainHttpServer(self._handle, continue_ok=False)

    @property
    def base_url(self) -> str:
        address = self._server.address
        if address is None:
            raise RuntimeError(f"{self.phone.name}: web server not started")
        return f"http://{address[0]}" + ("" if address[1] == STANDARD_PORT else f":{address[1]}")

    async def start(self) -> None:
        """Port 80 when it can be had (root, free), else any free port on the address."""
        try:
            await self._server.start(self.phone.address, STANDARD_PORT)
        except OSError:
            await self._server.start(self.phone.address, 0)

    async def stop(self) -> None:
        await self._server.stop()

    async def _handle(self, request: Request) -> Response:
        phone = self.phone
        config = phone.firmware.state.config
        if not phone.powered or not config.web_access:
            raise ConnectionAbortedError("web server off")  # the client sees a dropped line
        if request.path == "/DeviceInformationX" and request.method == "GET":
            return Response(200, device_information(phone), "text/xml")
        if request.path != "/CGI/Execute":
            return Response(404, b"not found")
        if request.method != "POST":
            return Response(405, b"method not allowed")
        if request.expects_continue:
            return _error(ERROR_EXPECT)
        user, password = _basic(request.headers.get("authorization", ""))
        if not await self._authorized(user, password, config.authentication_url):
            phone.record("phone.cgi", user=user, result="error 4")
            return _error(ERROR_AUTH)
        urls = _execute_urls(request.form().get("XML", ""))
        if urls is None:
            phone.record("phone.cgi", user=user, result="error 1")
            return _error(ERROR_PARSE)
        phone.record("phone.cgi", user=user, result="ok", urls=urls)
        for url in urls:
            phone.press_key(url, via="cgi")
        items = "".join(f'<ResponseItem Status="0" Data="Success" URL={quoteattr(u)}/>'
                        for u in urls)
        return Response(200, f"<CiscoIPPhoneResponse>{items}</CiscoIPPhoneResponse>".encode(),
                        "text/xml")

    async def _authorized(self, user: str | None, password: str | None,
                          url: str | None) -> bool:
        if not url:
            return True  # empty authenticationURL: every request accepted (§6.2)
        if user is None or password is None:
            return False
        fields = {"UserID": user, "Password": password, "devicename": self.phone.name}
        try:
            status, body = await post_form(url, fields, local_host=self.phone.address,
                                           timeout=AUTH_TIMEOUT)
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
            return False
        return status == 200 and body == b"AUTHORIZED"


def _error(number: int) -> Response:
    return Response(200, f'<CiscoIPPhoneError Number="{number}"/>'.encode(), "text/xml")


def _basic(header: str) -> tuple[str | None, str | None]:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, sep, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return (user, password) if sep else (None, None)


def _execute_urls(xml: str) -> list[str] | None:
    """The ExecuteItem URLs of a CiscoIPPhoneExecute, or None when it is not one."""
    if "<!" in xml:  # no DTDs or entity declarations from the network
        return None
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    items = root.findall("ExecuteItem")
    if root.tag != "CiscoIPPhoneExecute" or not 1 <= len(items) <= MAX_ITEMS:
        return None
    urls = [item.get("URL", "") for item in items]
    return urls if all(urls) else None


def device_information(phone: TwinPhone) -> bytes:
    """`/DeviceInformationX` with the running load (§6.1, §5.4)."""
    load = phone.software_version
    lines = phone.firmware.state.config.lines
    fields = {
        "MACAddress": phone.mac, "HostName": phone.name,
        "phoneDN": lines[0].dn if lines else "", "appLoadID": load,
        "bootLoadID": f"tnp{phone.model_info.model}.{_load_tail(load)}", "versionID":
        _version_id(load), "DSPLoadID": "", "addonModule1": "", "addonModule2": "",
        "hardwareRevision": "1.0", "serialNumber": f"FCH{phone.mac[-8:]}",
        "modelNumber": f"CP-{phone.model_info.model}", "Codec": "", "Amps": "",
        "C3PORevision": "", "MessageWaiting": "No",
    }
    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
    return (f'<?xml version="1.0" encoding="iso-8859-1"?>\n<DeviceInformation>{body}'
            "</DeviceInformation>").encode("iso-8859-1", "replace")


def _load_tail(load: str) -> str:
    return load.split(".", 1)[1] if "." in load else load


def _version_id(load: str) -> str:
    """`SIP7962.9-4-2SR3-1S` → `9.4(2SR3.1)`, the form phones show [I]."""
    parts = _load_tail(load).removesuffix("S").split("-")
    if len(parts) < 3:
        return _load_tail(load)
    return f"{parts[0]}.{parts[1]}({'.'.join(parts[2:])})"
