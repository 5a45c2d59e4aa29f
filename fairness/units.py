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


def in_one_unit(kind: str, values, unit: str = ""):
    """A formatter that writes every value of one table column in the unit of its largest value,
    so that a column reads down ('956 us' above '2.518 ms' makes a reader convert): `kind` is
    "si" (with `unit`, e.g. "/s"), "seconds" or "size"."""
    vals = [abs(float(v)) for v in values if v is not None]
    top = max(vals, default=0.0)
    if kind == "seconds":
        scale, name = next(((s, u) for s, u in ((1, "s"), (1e-3, "ms"), (1e-6, "us")) if top >= s), (1e-6, "us"))
        return lambda v: "n/a" if v is None else f"{float(v) / scale:.4g} {name}"
    if kind == "size":
        scale, name = 1, "B"
        for name in ("B", "KiB", "MiB", "GiB", "TiB"):
            if top < 1024 * scale or name == "TiB":
                break
            scale *= 1024
        return lambda v: "n/a" if v is None else f"{float(v) / scale:.4g} {name}"
    scale, prefix = next(((s, p) for s, p in _PREFIXES if top >= s), (1, ""))
    return lambda v: "n/a" if v is None else f"{float(v) / scale:.4g} {prefix}{unit}".rstrip()
