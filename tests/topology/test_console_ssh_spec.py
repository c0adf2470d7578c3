"""`ssh://` consoles in the topology: validation, credentials by environment variable,
wiring on hardware, and the cluster writing them into the phone's config."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from harness.cluster.configs import Endpoints, device_config
from harness.cluster.from_spec import cluster_state, ssh_logins
from harness.errors import UsageError
from lab_topology import parse_lab
from lab_topology.schema import ConsoleSpec
from phone_drivers.emulator.phone_ssh import config_login
from phone_drivers.wiring import hardware_wiring

SSH_PHONE = "SEPB000B4BA0AEE"
LAB: dict[str, Any] = {
    "name": "lab3", "backend": "hardware",
    "racks": [{
        "name": "rack-a",
        "cluster": {"nodes": [{"name": "cucm1", "address": "10.20.0.11"}]},
        "switches": [{"name": "sw1", "host": "10.20.0.2",
                      "credentials": {"username_env": "T_SW_USER", "password_env": "T_SW_PW"}}],
        "phones": [
            {"name": "SEP0021555542E6", "model": "7962", "switch": "sw1", "port": "Gi1/0/1",
             "console": {"url": "/dev/ttyUSB0"}},
            {"name": SSH_PHONE, "model": "8861", "switch": "sw1", "port": "Gi1/0/2",
             "address": "10.20.0.40",
             "console": {"url": "ssh://", "credentials": {"username_env": "T_PH_USER",
                                                          "password_env": "T_PH_PW"}}},
        ],
    }],
}
ENV = {"T_SW_USER": "admin", "T_SW_PW": "x", "T_PH_USER": "phoneadmin", "T_PH_PW": "s3cret"}


def lab(**console: Any) -> Any:
    document = copy.deepcopy(LAB)
    document["racks"][0]["phones"][1]["console"].update(console)
    return parse_lab(document)


@pytest.mark.parametrize(("url", "endpoint"), [
    ("ssh://", (None, 22)), ("SSH://", (None, 22)), ("ssh://10.0.0.7", ("10.0.0.7", 22)),
    ("ssh://phone1.lab:2222", ("phone1.lab", 2222)), ("ssh:///", (None, 22)),
])
def test_ssh_urls(url: str, endpoint: tuple[str | None, int]) -> None:
    spec = ConsoleSpec(url=url)
    assert spec.is_ssh and spec.ssh_endpoint == endpoint
    assert spec.ssh_login.username_env == "PHONELAB_PHONE_SSH_USER"
    assert spec.ssh_shell.log_command == "show strace"


@pytest.mark.parametrize(("console", "message"), [
    ({"url": "ssh://admin@10.0.0.7"}, r"only ssh://\[HOST\]\[:PORT\]"),
    ({"url": "ssh://10.0.0.7/log"}, r"only ssh://\[HOST\]\[:PORT\]"),
    ({"url": "ssh://10.0.0.7:70000"}, "port must be 1-65535"),
    ({"url": "/dev/ttyUSB0", "credentials": {}}, "only to ssh:// consoles"),
    ({"url": "socket://ts1:7001", "shell": {"login": None}}, "only to ssh:// consoles"),
    ({"url": "ssh://", "credentials": {"username": "admin"}}, "username"),  # no secrets
    ({"url": "ssh://", "shell": {"prompt": "("}}, "not a regular expression"),
    ({"url": "ssh://", "shell": {"log_command": ""}}, "log_command"),
])
def test_bad_console_entries_are_rejected_with_a_reason(console: dict[str, Any],
                                                        message: str) -> None:
    document = copy.deepcopy(LAB)
    document["racks"][0]["phones"][1]["console"] = console
    with pytest.raises(UsageError, match=message):
        parse_lab(document)


def test_missing_environment_variables_are_one_usage_error_naming_them() -> None:
    rack = lab().racks[0]
    with pytest.raises(UsageError, match=rf"T_PH_USER \({SSH_PHONE}\), T_PH_PW \({SSH_PHONE}\)"):
        ssh_logins(rack, environ={})
    env = {k: v for k, v in ENV.items() if k != "T_PH_PW"}
    with pytest.raises(UsageError, match=r"set T_PH_PW \(SEPB000B4BA0AEE\) in the environment"):
        ssh_logins(rack, environ=env)
    assert ssh_logins(rack, environ=ENV) == {SSH_PHONE: ("phoneadmin", "s3cret")}


def test_hardware_wiring_uses_the_phone_address_and_env_credentials(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rack = lab().racks[0]
    for name in ("T_PH_USER", "T_PH_PW"):
        monkeypatch.delenv(name, raising=False)
    for name in ("T_SW_USER", "T_SW_PW"):
        monkeypatch.setenv(name, ENV[name])
    monkeypatch.setenv("PHONELAB_CGI_USER", "cgiuser")  # the default keypad is CGI
    monkeypatch.setenv("PHONELAB_CGI_PASSWORD", "cgipass")
    with pytest.raises(UsageError, match="T_PH_USER"):
        hardware_wiring(rack)
    monkeypatch.setenv("T_PH_USER", "phoneadmin")
    monkeypatch.setenv("T_PH_PW", "s3cret")
    wiring = hardware_wiring(rack)
    target = wiring.ssh_consoles[SSH_PHONE]
    assert (target.host, target.port, target.username) == ("10.20.0.40", 22, "phoneadmin")
    assert SSH_PHONE not in wiring.consoles and "SEP0021555542E6" in wiring.consoles
    assert "s3cret" not in repr(target)  # SecretStr
    assert wiring.ssh_logins() == {SSH_PHONE: ("phoneadmin", "s3cret")}
    no_address = copy.deepcopy(LAB)
    del no_address["racks"][0]["phones"][1]["address"]
    assert hardware_wiring(parse_lab(no_address).racks[0]).ssh_consoles[SSH_PHONE].host is None


def test_cluster_writes_the_ssh_login_into_that_phone_config_only() -> None:
    rack = lab().racks[0]
    phones = cluster_state(rack, ssh_logins(rack, environ=ENV)).phones
    assert (phones[SSH_PHONE].ssh_user, phones[SSH_PHONE].ssh_password) == ("phoneadmin", "s3cret")
    assert phones["SEP0021555542E6"].ssh_user is None
    where = Endpoints(call_managers=[], tvs=[], capf=[], services_url=None, secure=False)
    xml = device_config(phones[SSH_PHONE], where, "1-x")
    assert b"<sshUserId>phoneadmin</sshUserId>" in xml and b"<sshPassword>s3cret</" in xml
    assert config_login(xml) == ("phoneadmin", "s3cret")  # what the twin phone reads back
    # without a login CUCM still writes the elements, empty: nothing for the phone to accept
    for phone in (phones["SEP0021555542E6"], cluster_state(rack).phones[SSH_PHONE]):
        other = device_config(phone, where, "1-x")
        assert b"<sshUserId></sshUserId>" in other or b"<sshUserId />" in other
        assert config_login(other) is None
