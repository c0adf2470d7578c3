"""Load ids and firmware file names per phone model (docs/REAL_WIRE.md §5.1).

One table maps a model to the code Cisco puts in its load names (`SIP42…` for
7942/7962, `sip88xx…` for 8841/8861), so configs, the example-load generator
and the twin's factory load all spell loads the same way.
"""

from __future__ import annotations

from harness.phone_models import lookup

# model -> (load-name code, term<NN> codes of its default loads)
_CODES: dict[str, tuple[str, tuple[str, ...]]] = {
    "7911": ("11", ("06", "11")), "7941": ("41", ("41", "61")), "7961": ("41", ("41", "61")),
    "7942": ("42", ("42", "62")), "7962": ("42", ("42", "62")),
    "7965": ("45", ("45", "65")), "7975": ("75", ("75",)),
    "8841": ("88xx", ()), "8861": ("88xx", ()), "8845": ("8845_65", ()),
    "8945": ("8941_8945", ()),
}
FACTORY_79XX = "9-3-1SR4-1S"  # the twin's factory load on 79x1/79x2 (an older release)
FACTORY_88XX = "12-5-1SR2-2"
FACTORY_89XX = "9-4-1-9"


def factory_load(model: str, protocol: str) -> str:
    """The load a twin phone of `model` runs out of the box, e.g. `SCCP42.9-3-1SR4-1S`."""
    key = lookup(model).model
    if key not in _CODES:  # 7940/7960: P0 loads
        return "P0030801SR02" if protocol == "SCCP" else "P0S3-08-12-00"
    code = _CODES[key][0]
    if code.startswith(("88", "8845")):
        return f"sip{code}.{FACTORY_88XX}"
    if code == "8941_8945":
        return f"{protocol}{code}.{FACTORY_89XX}"
    return f"{protocol}{code}.{FACTORY_79XX}"


def term_names(model: str) -> list[str]:
    """`term<NN>.default.loads` names a blank phone of `model` asks for (§5.1)."""
    codes = _CODES.get(lookup(model).model, ("", ()))[1]
    return [f"term{code}.default.loads" for code in codes]


def image_names(load: str) -> list[str]:
    """Image file names for a synthetic `load`, shaped like Cisco's (`jar42sip.<ver>.sbn`)."""
    head, _, version = load.partition(".")
    if not version:
        head, version = "", load
    proto = "".join(ch for ch in head if ch.isalpha() and not ch.isdigit())
    proto = proto.lower().removesuffix("xx")
    code = head[len(proto):] if head.lower().startswith(proto) else head
    return [f"{part}{code}{suffix}.{version}.sbn"
            for part, suffix in (("jar", proto), ("cnu", ""), ("apps", ""), ("dsp", ""),
                                 ("cvm", proto))]
