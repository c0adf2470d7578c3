"""Which keypad a topology phone gets, and where the CGI keypad finds the phone."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from harness.errors import LabError, UsageError
from harness.events import EventLog
from lab_topology.schema import PhoneSpec, RackSpec
from phone_drivers.keypad import CgiKeypad, ManualKeypad
from phone_drivers.wiring import CgiLogin, Wiring, _keypad, cgi_login

NAME = "SEP001122334455"


def spec(**kw: object) -> PhoneSpec:
    return PhoneSpec.model_validate({"name": NAME, "model": "7962", "switch": "sw1",
                                     "port": "Gi1/0/1", **kw})


def wiring(**kw: object) -> Wiring:
    kw.setdefault("addresses", {})
    return Wiring(switches={}, consoles={}, **kw)  # type: ignore[arg-type]


LOGIN = CgiLogin("labuser", SecretStr("pw"))


def never(text: str) -> bool:
    raise AssertionError(text)


def test_cgi_is_the_default_and_prefers_the_reported_web_url() -> None:
    assert spec().keypad == "cgi"
    pad = _keypad(spec(), wiring(web={NAME: "http://127.0.0.9:4711"}, addresses={
        NAME: "127.0.0.9"}, cgi=LOGIN, key_pause=0.01), None, EventLog(), never)
    assert isinstance(pad, CgiKeypad) and not pad.needs_operator
    assert pad.url == "http://127.0.0.9:4711/CGI/Execute" and pad.pause == 0.01
    pad = _keypad(spec(), wiring(addresses={NAME: "10.0.0.5"}, cgi=LOGIN), None, EventLog(),
                  never)
    assert isinstance(pad, CgiKeypad) and pad.url == "http://10.0.0.5/CGI/Execute"


def test_dhcp_phone_address_is_learnt_from_its_requests() -> None:
    events = EventLog()
    pad = _keypad(spec(), wiring(cgi=LOGIN), None, events, never)
    assert isinstance(pad, CgiKeypad)
    with pytest.raises(LabError, match="address unknown"):
        _ = pad.url
    events.bind_address("10.0.0.77", NAME)
    events.record("tftp.rrq", source="tftp", address="10.0.0.77", file="ITLFile.tlv")
    assert pad.url == "http://10.0.0.77/CGI/Execute"


def test_console_and_manual_only_when_asked_and_credentials_required() -> None:
    with pytest.raises(UsageError, match="needs a console"):
        _keypad(spec(keypad="console"), wiring(), None, EventLog(), never)
    manual = _keypad(spec(keypad="manual"), wiring(), None, EventLog(), never)
    assert isinstance(manual, ManualKeypad) and manual.needs_operator
    with pytest.raises(UsageError, match="CGI credentials"):
        _keypad(spec(), wiring(addresses={NAME: "10.0.0.5"}), None, EventLog(), never)


def test_cgi_login_from_the_variables_the_rack_names(monkeypatch: pytest.MonkeyPatch) -> None:
    rack = RackSpec.model_validate({
        "name": "r", "cluster": {"nodes": [{"name": "c", "address": "127.0.0.1"}]},
        "switches": [{"name": "sw1"}], "cgi": {"username_env": "R_U", "password_env": "R_P"},
        "phones": [spec().model_dump()]})
    monkeypatch.delenv("R_U", raising=False)
    monkeypatch.setenv("R_P", "secret")
    with pytest.raises(UsageError, match="set R_U and R_P"):
        cgi_login(rack)
    monkeypatch.setenv("R_U", "keys")
    login = cgi_login(rack)
    assert login.user == "keys" and login.password.get_secret_value() == "secret"
    assert "secret" not in repr(login)
