"""ctl_client_required follows every release boundary of docs/SECURITY_BY_DEFAULT.md §8."""

from __future__ import annotations

import pytest

from harness.cluster.releases import Release, ctl_client_required
from harness.errors import UsageError


@pytest.mark.parametrize(
    ("release", "es", "required"),
    [
        # 7.1(2): every regular release; ES before 007.001(002.32016.001)
        ("7.1(2)", False, True),
        ("007.001(002.10000.005)", False, True),
        ("007.001(002.99999.999)", False, True),
        ("007.001(002.32016.000)", True, True),
        ("007.001(002.32015.999)", True, True),
        ("007.001(002.32016.001)", True, False),
        ("007.001(002.32017.001)", True, False),
        # 7.1(3): regular before 007.001(003.21900.003); ES before 007.001(003.21005.001)
        ("7.1(3)", False, True),
        ("007.001(003.21900.002)", False, True),
        ("007.001(003.21900.003)", False, False),
        ("7.1.3.21900-3", False, False),
        ("007.001(003.30000.001)", False, False),
        ("007.001(003.21005.000)", True, True),
        ("007.001(003.21005.001)", True, False),
        ("007.001(003.21900.001)", True, False),
        # other releases are not concerned
        ("7.1(5)", False, False),
        ("7.0(1)", False, False),
        ("6.1(4)", False, False),
        ("8.0", False, False),
    ],
)
def test_ctl_client_rule_in_mixed_mode(release: str, es: bool, required: bool) -> None:
    assert ctl_client_required(Release.parse(release, es=es), mixed_mode=True) is required


@pytest.mark.parametrize("release", ["7.1(2)", "7.1(3)", "007.001(002.32015.000)"])
def test_never_required_in_non_secure_mode(release: str) -> None:
    assert not ctl_client_required(Release.parse(release, es=True), mixed_mode=False)
    assert not ctl_client_required(Release.parse(release), mixed_mode=False)


def test_ordering_and_security_by_default() -> None:
    assert Release.parse("7.1(3)") < Release.parse("007.001(003.21900.003)") < Release.parse("8.0")
    assert not Release.parse("7.1(5)").has_security_by_default
    assert Release.parse("8.6(2)").has_security_by_default
    assert str(Release.parse("7.1(3)")) == "7.1(3)"


@pytest.mark.parametrize("bad", ["", "eight", "7.x", "7.1(3", "1.2.3"])
def test_bad_release_text_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError, match="unrecognised CUCM release"):
        Release.parse(bad)
