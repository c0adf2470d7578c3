"""Keypads: twin console commands over a real pty, CGI/Execute over real HTTP, a person."""

from __future__ import annotations

import base64
import queue
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from harness.errors import LabError, UsageError
from harness.phone_models import Family
from phone_drivers import keypad_paths
from phone_drivers.console import SerialConsole
from phone_drivers.emulator.tty import PhoneTty, TtyCommand
from phone_drivers.keypad import CgiKeypad, ConsoleKeypad, Keypad, ManualKeypad
from phone_drivers.keypad_paths import key_names

OK = (b'<CiscoIPPhoneResponse><ResponseItem Status="0" Data="Success" URL="Key:x"/>'
      b"</CiscoIPPhoneResponse>")


def test_key_notation() -> None:
    assert key_names("{Settings}**#5") == ["Settings", "KeyPadStar", "KeyPadStar", "KeyPadPound",
                                           "KeyPad5"]
    for bad in ("", "{Settings", "a", "{}", "1 2"):
        with pytest.raises(UsageError):
            key_names(bad)


def test_console_keypad_reaches_the_twin(tmp_path: Path) -> None:
    got: queue.Queue[TtyCommand] = queue.Queue()
    with PhoneTty(Family.C88XX, on_command=got.put) as tty, SerialConsole(
            tty.path, name="SEP001122AABBCC", log_path=tmp_path / "c.log") as console:
        keypad = ConsoleKeypad(console, Family.C88XX)
        assert isinstance(keypad, Keypad)
        keypad.press("{Applications}**#")
        keypad.erase_itl()
        keypad.erase_ctl()
        keypad.enter_capf_auth("123456")
        keypad.factory_reset()
        received = [got.get(timeout=2) for _ in range(5)]
    assert received == [TtyCommand("key", "{Applications}**#"), TtyCommand("erase itl"),
                        TtyCommand("erase ctl"), TtyCommand("capf auth", "123456"),
                        TtyCommand("factory reset")]


def test_console_keypad_rejects_bad_input_before_sending(tmp_path: Path) -> None:
    with PhoneTty(Family.C79X1) as tty, SerialConsole(
            tty.path, name="SEP1", log_path=tmp_path / "c.log") as console:
        with pytest.raises(UsageError):
            ConsoleKeypad(console, Family.C79X1).press("erase itl")
        with pytest.raises(UsageError, match="4-10 digits"):
            ConsoleKeypad(console, Family.C79X1).enter_capf_auth("12")
        with pytest.raises(UsageError, match="no 'erase itl'"):
            ConsoleKeypad(console, Family.LEGACY_79XX).erase_itl()
    assert "sent" not in (tmp_path / "c.log").read_text()


class Phone(BaseHTTPRequestHandler):
    """The phone's web server: records Execute posts, answers `reply` (status, body)."""

    posts: ClassVar[list[tuple[str, str]]] = []
    reply: ClassVar[tuple[int, bytes]] = (200, OK)
    delay: ClassVar[float] = 0.0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        xml = urllib.parse.parse_qs(body.decode())["XML"][0]
        Phone.posts.append((self.headers["Authorization"], xml))
        time.sleep(Phone.delay)
        status, answer = Phone.reply
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def phone_web() -> Iterator[int]:
    Phone.posts, Phone.reply, Phone.delay = [], (200, OK), 0.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Phone)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def cgi(port: int, family: Family = Family.C79X1, **kw: object) -> CgiKeypad:
    kw.setdefault("timeout", 1.0)
    return CgiKeypad(f"http://127.0.0.1:{port}", family, user="labuser", password="s3cret",
                     pause=0, **kw)  # type: ignore[arg-type]


def test_cgi_posts_keys_one_by_one_in_order_with_basic_auth(phone_web: int) -> None:
    cgi(phone_web).press("{Settings}**#5")
    auth = "Basic " + base64.b64encode(b"labuser:s3cret").decode()
    assert [a for a, _ in Phone.posts] == [auth] * 5
    assert Phone.posts[0][1] == ('<CiscoIPPhoneExecute>'
                                 '<ExecuteItem Priority="0" URL="Key:Settings"/>'
                                 '</CiscoIPPhoneExecute>')
    assert sent_uris() == ["Key:Settings", "Key:KeyPadStar", "Key:KeyPadStar",
                           "Key:KeyPadPound", "Key:KeyPad5"]


def sent_uris() -> list[str]:
    return [item for _, xml in Phone.posts for item in xml.split('URL="')[1:]
            for item in [item.split('"')[0]]]


def test_cgi_erase_ctl_on_79x1_is_the_observed_7975_sequence(phone_web: int) -> None:
    cgi(phone_web).erase_ctl()
    assert sent_uris() == [  # docs/REAL_WIRE.md §6.3, literally
        "Init:Settings", "Key:Settings", "Key:KeyPad4", "Key:KeyPad5", "Key:KeyPad1",
        "Key:Soft5", "Key:KeyPadStar", "Key:KeyPadStar", "Key:KeyPadPound", "Key:Soft5"]
    assert all(xml.count("<ExecuteItem") == 1 for _, xml in Phone.posts)


def test_cgi_erase_itl_resolves_menu_labels_and_softkey_overrides(phone_web: int) -> None:
    menu = {"ITL File": "3"}
    cgi(phone_web, menu=menu, softkeys={"Erase": 3}).erase_itl()
    assert sent_uris() == ["Init:Settings", "Key:Settings", "Key:KeyPad4", "Key:KeyPad5",
                           "Key:KeyPad3", "Key:Soft5", "Key:KeyPadStar", "Key:KeyPadStar",
                           "Key:KeyPadPound", "Key:Soft3"]


def test_cgi_88xx_paths_and_capf_digits(phone_web: int) -> None:
    cgi(phone_web, Family.C88XX).factory_reset()
    cgi(phone_web, Family.C88XX).enter_capf_auth("4711")
    uris = sent_uris()
    assert uris[:5] == ["Key:Applications", "Key:KeyPad5", "Key:KeyPad4", "Key:KeyPad1",
                        "Key:Soft1"]
    assert "Key:KeyPad4,Key:KeyPad7,Key:KeyPad1,Key:KeyPad1" in ",".join(uris[5:])


def test_cgi_refuses_unknown_positions_and_power_paths_before_sending(
        phone_web: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(keypad_paths.MENU_KEYS[Family.C79X1], "Trust List")
    with pytest.raises(UsageError, match="position of menu 'Trust List' unknown"):
        cgi(phone_web).erase_itl()
    with pytest.raises(UsageError, match="needs hands on the phone"):
        cgi(phone_web).factory_reset()  # 79x1 keypad reset starts at power-on
    with pytest.raises(UsageError, match="4-10 digits"):
        cgi(phone_web).enter_capf_auth("12")
    with pytest.raises(UsageError, match="no 'erase itl'"):
        cgi(phone_web, Family.LEGACY_79XX).erase_itl()
    assert Phone.posts == []


@pytest.mark.parametrize(("reply", "message"), [
    ((401, b"denied"), "HTTP 401 \\(credentials rejected"),
    ((200, b'<CiscoIPPhoneError Number="4"/>'), "CiscoIPPhoneError 4 \\(authentication"),
    ((200, b'<CiscoIPPhoneError Number="1"/>'), "CiscoIPPhoneError 1 \\(parse error"),
    ((200, b'<CiscoIPPhoneResponse><ResponseItem Status="6" Data="Bad" URL="Key:Settings"/>'
           b'</CiscoIPPhoneResponse>'), "Key:Settings failed: status 6 Bad"),
    ((200, b"<html>not xml"), "unreadable reply"),
])
def test_cgi_failures_are_lab_errors(phone_web: int, reply: tuple[int, bytes],
                                     message: str) -> None:
    Phone.reply = reply
    with pytest.raises(LabError, match=message):
        cgi(phone_web).press("1")


def test_cgi_unreachable_or_hung_phone_fails_within_the_timeout(phone_web: int) -> None:
    with pytest.raises(LabError, match="unreachable"):
        CgiKeypad("http://127.0.0.1:1", Family.C88XX, user="u", password="p",
                  timeout=1).press("1")
    Phone.delay = 3.0
    start = time.monotonic()
    with pytest.raises(LabError, match=r"unreachable.*timed out"):
        cgi(phone_web, timeout=0.3).press("1")
    assert time.monotonic() - start < 1.0


def test_manual_keypad_shows_labelled_steps_and_fails_on_refusal() -> None:
    shown: list[str] = []

    def operator(text: str) -> bool:
        shown.append(text)
        return True

    ManualKeypad(Family.C79X1, operator).erase_ctl()
    assert shown[0].splitlines() == [
        "On the phone, erase ctl:", "  1. press {Settings}",
        "  2. select 'Security Configuration'", "  3. select 'Trust List'",
        "  4. select 'CTL File'", "  5. press softkey 'Unlock'", "  6. press **#",
        "  7. press softkey 'Erase'"]
    ManualKeypad(Family.C79X1, operator).factory_reset()
    assert "holding #" in shown[1] and "123456789*0#" in shown[1]
    with pytest.raises(LabError, match="operator did not confirm: On the phone, press 1"):
        ManualKeypad(Family.C88XX, lambda text: False).press("1")
