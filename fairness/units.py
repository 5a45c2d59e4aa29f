"""Numbers for people: SI prefixes and units. One home for every formatted number."""

from __future__ import annotations

_PREFIXES = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]


def si(value, unit: str = "", digits: int = 4) -> str:
    """17563828224 -> '17.56 G' (+ unit). Decimal prefixes; bytes use binary ones (see `size`)."""
    if value is None:
        return "n/a"
    v = float(value)
    for scale, prefix in _PREFIXES:
        if abs(v) >= scale:
            return f"{v / scale:.{digits}g} {prefix}{unit}".rstrip()
    return f"{v:.{digits}g} {unit}".rstrip()


def size(nbytes) -> str:
    """Bytes with binary prefixes: 346265824 -> '330.2 MiB'."""
    if nbytes is None:
        return "n/a"
    v = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(v) < 1024 or unit == "TiB":
            return f"{v:.4g} {unit}" if unit != "B" else f"{int(v)} B"
        v /= 1024
    raise AssertionError("unreachable")


def percent(fraction) -> str:
    return "n/a" if fraction is None else f"{100 * float(fraction):.2f} %"


def seconds(value) -> str:
    """Durations with the unit that keeps 3-4 digits: 0.00123 -> '1.23 ms'."""
    if value is None:
        return "n/a"
    v = float(value)
    for scale, unit in ((1, "s"), (1e-3, "ms"), (1e-6, "us")):
        if abs(v) >= scale or unit == "us":
            return f"{v / scale:.4g} {unit}"
    raise AssertionError("unreachable")
