"""The twin's menu model: key runs from docs/REAL_WIRE.md §6.3 complete the maintenance actions."""

from __future__ import annotations

from harness.phone_models import Family
from phone_drivers.emulator.menu import MenuAction, MenuModel
from phone_drivers.keypad_paths import Action

# the observed remote CTL erase on a 7975, literally (docs/REAL_WIRE.md §6.3)
OBSERVED_7975 = ["Init:Settings", "Key:Settings", "Key:KeyPad4", "Key:KeyPad5", "Key:KeyPad1",
                 "Key:Soft5", "Key:KeyPadStar", "Key:KeyPadStar", "Key:KeyPadPound", "Key:Soft5"]


def run(menu: MenuModel, uris: list[str]) -> list[MenuAction]:
    return [done for uri in uris for done in menu.press(uri)]


def test_the_observed_7975_sequence_erases_the_ctl() -> None:
    menu = MenuModel(Family.C79X1)
    assert run(menu, OBSERVED_7975) == [MenuAction(Action.ERASE_CTL)]
    assert menu.pressed == []


def test_unknown_keys_are_discarded_and_wandering_off_forgets_the_path() -> None:
    menu = MenuModel(Family.C79X1)
    noisy = [*OBSERVED_7975[:4], "Key:Bogus", "Key:NavLeft", "Foo:Bar", *OBSERVED_7975[4:]]
    assert run(menu, noisy) == [MenuAction(Action.ERASE_CTL)]  # NavLeft: not a 79xx key
    wandered = [*OBSERVED_7975[:4], "Key:KeyPad9", *OBSERVED_7975[4:]]
    assert run(menu, wandered) == []
    without_unlock = [u for u in OBSERVED_7975 if "Star" not in u and "Pound" not in u]
    assert run(MenuModel(Family.C79X1), without_unlock) == []
    assert run(MenuModel(Family.C79X1), ["Key:Settings", *OBSERVED_7975[1:]]) == [
        MenuAction(Action.ERASE_CTL)]  # a fresh {Settings} starts the path again


def test_88xx_security_reset_does_both_and_capf_digits_are_captured() -> None:
    security = ["Key:Applications", "Key:KeyPad5", "Key:KeyPad4", "Key:KeyPad5", "Key:Soft1"]
    assert run(MenuModel(Family.C88XX), security) == [MenuAction(Action.ERASE_ITL),
                                                      MenuAction(Action.ERASE_CTL)]
    capf = ["Key:Applications", "Key:KeyPad5", "Key:KeyPad3", "Key:KeyPad1", "Key:Soft1",
            "Key:KeyPad4", "Key:KeyPad7", "Key:KeyPad1", "Key:KeyPad1", "Key:Soft1"]
    assert run(MenuModel(Family.C88XX), capf) == [MenuAction(Action.CAPF_AUTH, "4711")]
    too_short = [*capf[:5], "Key:KeyPad4", "Key:KeyPad7", "Key:Soft1"]
    assert run(MenuModel(Family.C88XX), too_short) == []


def test_legacy_phones_have_no_key_reachable_actions() -> None:
    menu = MenuModel(Family.LEGACY_79XX)
    assert menu.patterns == {}
    assert run(menu, OBSERVED_7975) == []
