"""derive's own mpmath context, whose working precision is per thread.

`mp` has the whole mpmath API (`mp.mpf`, `mp.workdps`, `mp.exp`, `mp.nstr`, ...) but is not
`mpmath.mp`: a caller's `mpmath.mp.dps = 5` changes nothing here, and derive's `workdps` never
changes the caller's precision. Its precision lives in a thread-local slot (like `decimal`'s
context), so eight threads verifying at once each compute at their own precision, whichever
thread made the numbers they combine. Every derive module takes its mpmath from here.
"""
from __future__ import annotations

import re
import threading

import mpmath
from mpmath.libmp import dps_to_prec, prec_to_dps, round_nearest

DEFAULT_PREC = 53  # bits, mpmath's default (15 digits): a thread starts here


class _ThreadPrecision(threading.local):
    """[precision in bits, rounding] and the digits, per thread: stands in for the shared list
    mpmath's numbers read their precision from (`_prec_rounding`)."""

    def __init__(self):
        self.pair = [DEFAULT_PREC, round_nearest]
        self.dps = prec_to_dps(DEFAULT_PREC)

    def __getitem__(self, i):
        return self.pair[i]

    def __setitem__(self, i, value):
        self.pair[i] = value

    def __iter__(self):
        return iter(self.pair)

    def __len__(self):
        return 2


class _Context(mpmath.MPContext):
    """An mpmath context whose precision, digits and rounding are those of the calling thread."""

    def __init__(self):
        mpmath.MPContext.__init__(self)
        slot = _ThreadPrecision()
        self.__dict__["_prec_rounding"] = slot
        for cls in (self.mpf, self.mpc, self.constant):
            cls._ctxdata[2] = slot

    def _get_prec(self):
        return self._prec_rounding[0]

    def _put_prec(self, n):
        if isinstance(self._prec_rounding, _ThreadPrecision):  # (mpmath's __init__ sets it before)
            self._prec_rounding[0] = n

    def _get_dps(self):
        slot = self._prec_rounding
        return slot.dps if isinstance(slot, _ThreadPrecision) else prec_to_dps(slot[0])

    def _put_dps(self, n):
        if isinstance(self._prec_rounding, _ThreadPrecision):
            self._prec_rounding.dps = n

    _prec = property(_get_prec, _put_prec)
    _dps = property(_get_dps, _put_dps)

    def _set_prec(self, n):
        self._prec = max(1, int(n))
        self._dps = prec_to_dps(n)

    def _set_dps(self, n):
        self._prec = dps_to_prec(n)
        self._dps = max(1, int(n))

    prec = property(_get_prec, _set_prec)
    dps = property(_get_dps, _set_dps)


mp = _Context()


def is_number(value) -> bool:
    """Whether `value` is a real number of derive's context."""
    return isinstance(value, mp.mpf)


class Wide(float):
    """A number beyond double precision (1/σ(−1000) ≈ 1.97e434, or σ(−1000) ≈ 5.08e−435): the float
    it rounds to (±inf, or 0), carrying its 50-digit value `exact`, which printing and formatting
    show (`f"{w:.6g}"` -> 1.97007e+434); arithmetic and comparisons see the float."""

    exact: object

    def __new__(cls, exact):
        value = super().__new__(cls, mpmath.libmp.to_float(mp.mpf(exact)._mpf_, rnd=round_nearest))
        value.exact = mp.mpf(exact)
        return value

    def __reduce__(self):
        return Wide, (mp.nstr(self.exact, 60),)

    def text(self, digits: int = 6) -> str:
        """The value in scientific form with `digits` significant digits: 1.97007e+434."""
        mant, _, exp = mp.nstr(self.exact, max(1, digits), min_fixed=1, max_fixed=0).partition("e")
        if "." in mant:
            mant = mant.rstrip("0").rstrip(".")
        return f"{mant}e{exp}"

    def __format__(self, spec: str) -> str:
        m = re.fullmatch(r"((?:.?[<>^])?)([-+ ]?)(\d*)\.(\d+)[gGeE]", spec)
        if m is None:
            return super().__format__(spec)
        align, sign, width, digits = m.groups()
        text = self.text(int(digits))
        if sign in ("+", " ") and not text.startswith("-"):
            text = sign + text
        return format(text, align + width)

    def __str__(self) -> str:
        return self.text(17)

    __repr__ = __str__


def as_float(value):
    """An mpmath number as a float, or as a `Wide` when the float would lose it (overflow to ±inf,
    underflow to 0)."""
    x = mpmath.libmp.to_float(value._mpf_, rnd=round_nearest) if hasattr(value, "_mpf_") else float(value)
    if (x == 0 and value != 0) or (x in (float("inf"), float("-inf")) and mp.isfinite(value)):
        return Wide(value)
    return x
