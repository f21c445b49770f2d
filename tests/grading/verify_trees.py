"""Answers as small trees: printed the ways students write them, evaluated against the oracle.

Forms: Q (a quantity), ("num", "2"), ("add"|"sub"|"div", a, b), ("mul", [a, ...]), ("neg", a),
("pow", a, 2), ("fn", name, a), ("actd", activation, act_q, net_q) (an activation's derivative at
one unit, printed in one of its usual forms), ("sum", letter, layer, body, lo, hi), ("grad", q)
(∂E/∂q). `render(tree, style, ctx)` prints; `value(tree, oracle, point, bind, r)` evaluates.
`rewrites` and `mutations` make equivalent and singly-changed trees.
"""
from __future__ import annotations

import random

import mpmath
from verify_oracle import Q

ACTD_FORMS = {"sigmoid": ["prod", "rprod", "sig", "prime"], "tanh": ["sq", "tanh2", "prime", "cosh"],
              "relu": ["step", "ind", "prime", "H"], "identity": ["one"]}


# ---------------------------------------------------------------- evaluation

def _layer(layer, r):
    return r + layer[1] if isinstance(layer, tuple) else layer


def _idx(i, bind):
    return bind[i] if isinstance(i, str) else i


def value(t, o, pi, bind, r=None):
    """The tree's value at oracle point pi for index bindings `bind` (rule layer r)."""
    if isinstance(t, Q):
        return _q(t, o, pi, bind, r)
    kind = t[0]
    if kind == "num":
        return mpmath.mpf(t[1])
    if kind in ("add", "sub", "div"):
        a, b = value(t[1], o, pi, bind, r), value(t[2], o, pi, bind, r)
        return a + b if kind == "add" else (a - b if kind == "sub" else a / b)
    if kind == "mul":
        out = mpmath.mpf(1)
        for f in t[1]:
            out *= value(f, o, pi, bind, r)
        return out
    if kind == "neg":
        return -value(t[1], o, pi, bind, r)
    if kind == "pow":
        return value(t[1], o, pi, bind, r) ** t[2]
    if kind == "fn":
        v = value(t[2], o, pi, bind, r)
        return {"sigma": lambda: 1 / (1 + mpmath.exp(-v)), "tanh": lambda: mpmath.tanh(v),
                "exp": lambda: mpmath.exp(v), "log": lambda: mpmath.log(v),
                "step": lambda: mpmath.mpf(1 if v > 0 else 0)}[t[1]]()
    if kind == "actd":
        act = value(t[2], o, pi, bind, r)
        return {"sigmoid": lambda: act * (1 - act), "tanh": lambda: 1 - act**2,
                "relu": lambda: mpmath.mpf(1 if value(t[3], o, pi, bind, r) > 0 else 0),
                "identity": lambda: mpmath.mpf(1)}[t[1]]()
    if kind == "sum":
        _, letter, layer, body, lo, hi = t
        size = o.batch if layer == "batch" else o.sizes[_layer(layer, r)]
        return mpmath.fsum(value(body, o, pi, {**bind, letter: k}, r)
                           for k in range(lo or 1, (hi or size) + 1))
    if kind == "grad":
        q = t[1]
        if q.role == "node":
            return o.grad(pi, q.name)
        return o.grad(pi, _key(q, bind, r), _idx(q.n, bind) if q.n else 1)
    raise ValueError(kind)


def _key(q, bind, r):
    L = _layer(q.layer, r)
    idx = [_idx(i, bind) for i in q.idx]
    if q.role == "act":
        return ("a", L, idx[0])
    if q.role in ("net", "delta"):
        return ("z", L, idx[0])
    if q.role == "target":
        return ("t", idx[0])
    return (q.role, L, *idx)


def _q(q, o, pi, bind, r):
    if q.role == "node":
        return o.value(pi, q.name)
    n = _idx(q.n, bind) if q.n else 1
    if q.role == "delta":
        return o.sign * o.grad(pi, _key(q, bind, r), n)
    return o.value(pi, _key(q, bind, r), n)


# ---------------------------------------------------------------- printing

class Ctx:
    """What printing needs: notation, depth, the rule's layer r, output rule, batch, layer sizes."""

    def __init__(self, notation, D, r=None, output=False, batch=1, sizes=(), absolute=False):
        self.notation, self.D, self.r, self.output = notation, D, r, output
        self.batch, self.sizes, self.absolute = batch, sizes, absolute


def _sub(parts, style):
    s = "".join(str(p) for p in parts)
    if style.get("latex") or (len(s) > 1 and style.get("brace_sub")):
        return "_{" + s + "}"
    return "_" + s


def name(q: Q, style, ctx) -> str:
    if q.role == "node":
        base = q.name
        if style.get("latex") and "_" in base:
            b, s = base.split("_", 1)
            return f"{b}_{{{s}}}"
        if style.get("latex") and len(base) > 1 and style.get("mathrm"):
            return rf"\mathrm{{{base}}}"
        return base
    idx = list(q.idx)
    batch = ctx.batch > 1 and q.role in ("act", "net", "delta", "target")
    if batch and q.n is not None and not style.get("sample_sup"):
        idx = [q.n] + idx
    delta = {"greek": "δ", "word": "delta"}[style.get("delta", "greek")]
    if style.get("latex"):
        delta = r"\delta"
    L = _layer(q.layer, ctx.r) if q.layer is not None else None
    if ctx.notation == "mitchell":
        head = {"act": {0: "x", ctx.D: "o"}.get(L, "h"), "target": "t", "net": "net", "w": "w", "b": "b",
                "delta": delta}[q.role]
        if head == "net" and style.get("latex") and style.get("mathrm"):
            head = r"\mathrm{net}"
        sup = ""
        if style.get("tagged") and q.role in ("net", "w", "b", "delta"):
            sup = "h" if L == 1 and ctx.D == 2 else "o"
    else:
        head = {"act": "a", "net": "z", "w": "w", "b": "b", "delta": delta, "target": "y"}[q.role]
        sup = "" if q.role == "target" else _nsup(L, ctx, style)
    out = head
    if batch and q.n is not None and style.get("sample_sup"):
        sup = (sup + "," if sup else "") + f"({q.n})"
    sub = _sub(idx, style)
    if not sup:
        return out + sub
    minus = "−" if style.get("unicode_minus") else "-"
    sup = sup.replace("-", minus)
    if style.get("latex") or style.get("sup") == "brace" or (len(sup) > 1 and style.get("sup") != "plain"):
        sup_s = "^{" + sup + "}"
    else:
        sup_s = "^" + sup
    if style.get("sup") == "subfirst":
        return out + sub + sup_s
    return out + sup_s + sub


def _nsup(L, ctx, style) -> str:
    if ctx.absolute:
        return str(L + 1)
    if ctx.output:
        return "L" if L == ctx.D else f"L-{ctx.D - L}"
    d = L - ctx.r
    return "l" if d == 0 else (f"l+{d}" if d > 0 else f"l-{-d}")


_PREC = {"add": 1, "sub": 1, "neg": 2, "mul": 2, "div": 2, "sum": 2, "pow": 4}


def _prec(t):
    if isinstance(t, Q):
        return 5
    if t[0] == "num":
        return 5 if not t[1].startswith("-") else 2
    if t[0] == "actd":
        return 2
    return _PREC.get(t[0], 5)


def render(t, style, ctx) -> str:
    s = _render(t, style, ctx)
    if style.get("unicode_minus"):
        s = s.replace(" - ", " − ").replace("-(", "−(")
    return s


def _paren(s, style):
    return rf"\left({s}\right)" if style.get("latex") and style.get("leftright") else f"({s})"


def _times(style) -> str:
    m = style.get("mul", "juxt")
    if style.get("latex"):
        return {"juxt": " ", "star": r" \cdot ", "cdot": r" \cdot ", "thin": r"\,"}.get(m, " ")
    return {"juxt": " ", "star": "*", "cdot": "·", "thin": " "}.get(m, " ")


def _render(t, style, ctx) -> str:
    latex = style.get("latex")
    if isinstance(t, Q):
        return name(t, style, ctx)
    kind = t[0]
    if kind == "num":
        return t[1]
    if kind in ("add", "sub"):
        right = _render(t[2], style, ctx)
        if kind == "sub" and _prec(t[2]) <= 1:
            right = _paren(right, style)
        return f"{_render(t[1], style, ctx)} {'+' if kind == 'add' else '-'} {right}"
    if kind == "neg":
        inner = _render(t[1], style, ctx)
        return "-" + (_paren(inner, style) if _prec(t[1]) <= 2 and not (
            isinstance(t[1], tuple) and t[1][0] == "mul" and style.get("neg_mul_bare")) else inner)
    if kind == "div":
        a, b = _render(t[1], style, ctx), _render(t[2], style, ctx)
        if latex:
            return rf"\frac{{{a}}}{{{b}}}"
        a = a if _prec(t[1]) > 2 else _paren(a, style)
        b = b if _prec(t[2]) > 4 else _paren(b, style)
        return f"{a}/{b}"
    if kind == "pow":
        base = _render(t[1], style, ctx)
        if _prec(t[1]) < 5 or (isinstance(t[1], Q) and "^" in base):
            base = _paren(base, style)
        if latex:
            return f"{base}^{{{t[2]}}}"
        if style.get("pow") == "unicode" and t[2] in (2, 3):
            return base + {2: "²", 3: "³"}[t[2]]
        return f"{base}^{t[2]}"
    if kind == "mul":
        parts = []
        for i, f in enumerate(t[1]):
            s = _render(f, style, ctx)
            if _prec(f) <= 1 or (i > 0 and s.startswith(("-", "−"))) or \
                    (isinstance(f, tuple) and f[0] == "sum" and i < len(t[1]) - 1 and style.get("sum") == "bare"):
                s = _paren(s, style)
            if isinstance(f, tuple) and f[0] == "num" and i > 0:
                parts.append("*")
            parts.append(s)
        out = parts[0]
        for p in parts[1:]:
            if p == "*":
                out += "*" if not latex else r" \cdot "
                continue
            juxt = style.get("mul", "juxt") == "juxt" and not latex and p.startswith("(") and not out.endswith(" ")
            if out.endswith("*") or out.endswith(r"\cdot ") or juxt:
                out += p
            else:
                out += _times(style) + p
        return out
    if kind == "fn":
        arg = _render(t[2], style, ctx)
        names = {"sigma": {"greek": "σ", "word": "sigma", "fn": "sigmoid"}[style.get("sigma", "greek")],
                 "tanh": "tanh", "exp": "exp", "log": "log", "step": "step"}
        if latex:
            names = {"sigma": r"\sigma", "tanh": r"\tanh", "exp": r"\exp", "log": r"\log",
                     "step": r"\operatorname{step}"}
        return f"{names[t[1]]}{_paren(arg, style)}"
    if kind == "actd":
        return _actd(t, style, ctx)
    if kind == "sum":
        return _sum(t, style, ctx)
    if kind == "grad":
        q = _render(t[1], style, ctx)
        loss = style.get("loss", "E")
        if latex:
            return rf"\frac{{\partial {loss}}}{{\partial {q}}}"
        if style.get("grad") == "d":
            return f"d{loss}/d{q}"
        return f"∂{loss}/∂{q}"
    raise ValueError(kind)


def _actd(t, style, ctx):
    _, act, a, z = t
    form = style.get("actd", {}).get(act) or ACTD_FORMS[act][0]
    latex = style.get("latex")
    A, Z = _render(a, style, ctx), _render(z, style, ctx)
    sig = r"\sigma" if latex else {"greek": "σ", "word": "sigma", "fn": "sigmoid"}[style.get("sigma", "greek")]
    prime = "'" if latex or style.get("ascii_prime") else "′"
    two = "^{2}" if latex else ("²" if style.get("pow") == "unicode" else "^2")
    A2 = f"({A})" if "^" in A and not latex else A
    tanh = r"\tanh" if latex else "tanh"
    return {
        "prod": lambda: f"{A}(1 - {A})" if not latex else rf"{A}\left(1 - {A}\right)",
        "rprod": lambda: f"(1 - {A}){A}" if not latex else rf"\left(1 - {A}\right) {A}",
        "sig": lambda: f"{sig}({Z})(1 - {sig}({Z}))",
        "prime": lambda: {"sigmoid": f"{sig}{prime}({Z})", "tanh": f"{tanh}{prime}({Z})",
                          "relu": f"relu{prime}({Z})"}[act],
        "sq": lambda: f"(1 - {A2}{two})",
        "tanh2": lambda: f"(1 - {tanh}({Z}){two})",
        "cosh": lambda: (rf"\frac{{1}}{{\cosh^{{2}}({Z})}}" if latex else f"1/cosh({Z})^2"),
        "step": lambda: f"step({Z})" if not latex else rf"\operatorname{{step}}({Z})",
        "ind": lambda: f"1[{Z} > 0]" if not latex else rf"\mathbb{{1}}[{Z} > 0]",
        "H": lambda: f"H({Z})",
        "one": lambda: "1",
    }[form]()


def _sum(t, style, ctx):
    _, letter, layer, body, lo, hi = t
    latex = style.get("latex")
    how = style.get("sum", "paren")
    if how == "expand" and lo is None and hi is None:
        size = ctx.batch if layer == "batch" else ctx.sizes[_layer(layer, ctx.r)] if ctx.r is not None or \
            not isinstance(layer, tuple) else None
        if size and size <= 4:
            terms = [_render(substitute(body, letter, k), style, ctx) for k in range(1, size + 1)]
            return "(" + " + ".join(terms) + ")"
        how = "paren"
    b = _render(body, style, ctx)
    bounds = ""
    if lo is not None or hi is not None or how == "bounds":
        top = hi if hi is not None else ("N" if layer == "batch" else "m")
        bounds = f"_{{{letter}={lo or 1}}}^{{{top}}}"
    else:
        bounds = f"_{letter}" if not latex else f"_{{{letter}}}"
    if latex:
        head = r"\sum" + bounds
        return f"{head} {b}" if how in ("bare", "bounds") else rf"{head}\left({b}\right)"
    head = ("Σ" if how in ("bracket", "bare", "bounds") else "sum") + bounds
    if how == "bracket":
        return f"{head}[{b}]"
    if how in ("bare", "bounds"):
        return f"{head} {b}"
    return f"{head}({b})"


def substitute(t, letter, k):
    """The tree with an index letter replaced by a unit number (a sum written out term by term)."""
    if isinstance(t, Q):
        return Q(t.role, t.layer, tuple(k if i == letter else i for i in t.idx), k if t.n == letter else t.n, t.name)
    if t[0] == "num":
        return t
    if t[0] == "mul":
        return ("mul", [substitute(f, letter, k) for f in t[1]])
    if t[0] == "sum":
        return t if t[1] == letter else (*t[:3], substitute(t[3], letter, k), *t[4:])
    if t[0] in ("fn", "actd"):
        return (t[0], t[1], *[substitute(x, letter, k) for x in t[2:]])
    if t[0] == "pow":
        return ("pow", substitute(t[1], letter, k), t[2])
    if t[0] == "grad":
        return ("grad", substitute(t[1], letter, k))
    return (t[0], *[substitute(x, letter, k) for x in t[1:]])


# ---------------------------------------------------------------- rewrites and mutations

def shuffled(t, rng: random.Random):
    """The same tree with the factors of every product in another order."""
    if isinstance(t, Q) or t[0] == "num":
        return t
    if t[0] == "mul":
        fs = [shuffled(f, rng) for f in t[1]]
        rng.shuffle(fs)
        return ("mul", fs)
    if t[0] == "sum":
        return (*t[:3], shuffled(t[3], rng), *t[4:])
    if t[0] in ("fn", "actd", "grad", "pow"):
        return t
    return (t[0], *[shuffled(x, rng) for x in t[1:]])


def nodes(t, path=()):
    """Every subtree with its path."""
    yield path, t
    if isinstance(t, Q) or t[0] == "num":
        return
    if t[0] == "mul":
        for i, f in enumerate(t[1]):
            yield from nodes(f, path + (i,))
    elif t[0] == "sum":
        yield from nodes(t[3], path + ("body",))
    elif t[0] in ("add", "sub", "div"):
        yield from nodes(t[1], path + (1,))
        yield from nodes(t[2], path + (2,))
    elif t[0] in ("neg", "pow"):
        yield from nodes(t[1], path + (1,))


def replace(t, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if t[0] == "mul":
        fs = list(t[1])
        if new is None and not rest:
            del fs[head]
            return fs[0] if len(fs) == 1 else ("mul", fs)
        fs[head] = replace(fs[head], rest, new)
        return ("mul", fs)
    if t[0] == "sum":
        return (*t[:3], replace(t[3], rest, new), *t[4:])
    items = list(t)
    items[head] = replace(items[head], rest, new)
    return tuple(items)


def mutations(t, letters, ctx, activation_of=None):
    """(label, tree) for single changes of a right answer: a sign, a factor 2, a factor dropped or
    repeated, an index letter changed, w's indices swapped, an activation's derivative swapped or
    halved, a sum dropped or cut to its first unit, a quantity of the layer below."""
    out = [("sign", ("neg", t)), ("factor2", ("mul", [("num", "2"), t]))]
    for path, sub in nodes(t):
        if isinstance(sub, tuple) and sub[0] == "mul" and len(sub[1]) > 1:
            for i, f in enumerate(sub[1]):
                out.append(("drop", replace(t, path + (i,), None)))
                out.append(("twice", replace(t, path + (i,), ("pow", f, 2) if not (
                    isinstance(f, tuple) and f[0] in ("sum", "actd")) else ("mul", [f, f]))))
        if isinstance(sub, Q) and sub.role != "node":
            for x in letters:
                for pos, i in enumerate(sub.idx):
                    if isinstance(i, str) and i != x:
                        idx = tuple(x if p == pos else v for p, v in enumerate(sub.idx))
                        out.append(("index", replace(t, path, Q(sub.role, sub.layer, idx, sub.n))))
            if sub.role == "w" and sub.idx[0] != sub.idx[1]:
                out.append(("swap", replace(t, path, Q("w", sub.layer, sub.idx[::-1], sub.n))))
            if sub.role == "act" and sub.layer not in (0,) and sub.layer != ("r", -99):
                lower = (sub.layer[0], sub.layer[1] - 1) if isinstance(sub.layer, tuple) else sub.layer - 1
                out.append(("layer", replace(t, path, Q("act", lower, sub.idx, sub.n))))
        if isinstance(sub, tuple) and sub[0] == "actd":
            for other in ("sigmoid", "tanh", "relu", "identity"):
                if other != sub[1]:
                    out.append(("activation", replace(t, path, ("actd", other, sub[2], sub[3]))))
            if sub[1] == "sigmoid":
                out.append(("half", replace(t, path, sub[2])))
                out.append(("half", replace(t, path, ("sub", ("num", "1"), sub[2]))))
            out.append(("drop-actd", replace(t, path, ("num", "1"))))
        if isinstance(sub, tuple) and sub[0] == "sum":
            out.append(("nosum", replace(t, path, sub[3])))
            size = ctx.batch if sub[2] == "batch" else None
            if size is None and ctx.sizes and (ctx.r is not None or not isinstance(sub[2], tuple)):
                size = ctx.sizes[_layer(sub[2], ctx.r)]
            if size and size >= 2:
                out.append(("bounds", replace(t, path, (*sub[:4], 1, 1))))
        if isinstance(sub, tuple) and sub[0] == "pow" and sub[2] == -2:
            out.append(("square", replace(t, path, ("pow", sub[1], -1))))
    return out
