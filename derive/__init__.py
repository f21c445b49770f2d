"""derive: chain-rule derivations for computational graphs and networks, proven numerically.

The Python API (see derive.api; the names below are imported on first use, so `import derive`
and the command line stay quick):

    import derive
    p = derive.circuit("f = (x + y) * z", x=-2, y=5, z=-4)   # graph, network, layers, load, loads
    s = p.solve()
    s.gradients, s.values, s.steps, s.checks.ok
    s.report("out.pdf"); s.latex(); s.markdown()
    derive.verify(p, wrt="x", answer="z")
    derive.worksheets([p], versions=3, seed=7, out="sheets/")
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["CheckFailed", "Checks", "DeriveError", "DisplayWarning", "DomainError", "LatexError", "LatexMissing",
           "ParseError", "Problem", "ProblemError", "Solution", "Steps", "Verdict", "VerifyError", "__version__",
           "builtins", "circuit", "graph", "layers", "load", "loads", "network", "report", "verify", "worksheets"]

TYPE_CHECKING = False  # type checkers take it as True; importing typing would cost 4 ms
if TYPE_CHECKING:  # for type checkers and editors; at run time the names load lazily
    from .api import (
        CheckFailed,
        Checks,
        DeriveError,
        DisplayWarning,
        DomainError,
        LatexError,
        LatexMissing,
        ParseError,
        Problem,
        ProblemError,
        Solution,
        Steps,
        Verdict,
        VerifyError,
        builtins,
        circuit,
        graph,
        layers,
        load,
        loads,
        network,
        report,
        verify,
        worksheets,
    )


_MODULES = ("api", "errors", "i18n")  # submodules the docs name: derive.i18n.language("ko"), ...


if TYPE_CHECKING:
    from . import api, errors, i18n  # noqa: F401  (the submodules the docs name, for type checkers)
else:  # hidden from type checkers, which then see `derive.circut` as the error it is
    def __getattr__(name: str) -> object:
        """The public API's names, imported from derive.api on first use; a typo is an AttributeError
        with the nearest names."""
        if name in __all__ and name != "__version__":
            from . import api
            value = getattr(api, name)
            globals()[name] = value
            return value
        if name in _MODULES:
            import importlib
            return importlib.import_module(f"{__name__}.{name}")
        import difflib
        close = difflib.get_close_matches(name, [*__all__, *_MODULES], n=3)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise AttributeError(f"module 'derive' has no attribute {name!r}{hint}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_MODULES))
