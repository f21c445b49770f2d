"""The gradients a student may be asked for, per problem kind, as Targets; and --wrt read as one.

Scalar graphs: every node. Networks: each index-form rule (w_kj, delta^l_j, ...) with every
instance it covers, and each element (W2[1,2], or its leaf name w^o_12). Matrix layers: each
element (W[1,2], w_12); whole matrices go through `matrix_answers`. A big network's answers are
checked on a smaller copy of the same form (`reduced`).
"""
from __future__ import annotations

import dataclasses
import difflib
import itertools
import re
import weakref
from dataclasses import dataclass

import sympy as sp

from ..engine.ops import LOSSES
from ..engine.parse import symbol
from ..i18n import _
from ..networks.solve import build
from .answers import Instance, Target, VerifyError
from .showing import display_name
from .typed_names import canonical, resolve_known
from .vocabulary import FULL, NetNames, ScalarNames, letter

REDUCE_ABOVE = 150  # weights × samples above which a network's answers are checked on a smaller copy
SMALL = 3  # the smaller copy's narrowest layer (then 4, 5, ... in the order of the real sizes)
_WHOLE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # smaller copy -> the problem it stands for


def reduced(problem, texts=()):
    """The problem an answer about `problem` is checked on: itself, or for a big network a copy of
    the same form (notation, activations, loss, bias, δ convention, depth) with a few units per layer.

    An index-form rule does not depend on the layer sizes: an answer that holds for every unit and
    every sample of the copy, at many random points, holds for the big network. The copy keeps every
    unit and sample up to one past any number the texts (--wrt and the answers) name, so what an answer
    singles out (W2[7,12], a sum Σ_{k=1}^{9} that stops one short) is inside the copy and away from its
    edge. Values are the problem's own, cut to size (a one-hot target row keeps one hot unit)."""
    if getattr(problem, "kind", "") != "network":
        return problem
    sizes, batch = problem.sizes, problem.batch
    if sum(a * b for a, b in itertools.pairwise(sizes)) * batch <= REDUCE_ABOVE:
        return problem
    named = {int(n) for t in texts if isinstance(t, str) for n in re.findall(r"\d+", t) if len(n) < 7}
    small = _small_sizes(sizes, named)
    rows = min(batch, max(2, max((x for x in named if x <= batch), default=0) + 1)) if batch > 1 else 1
    if small == tuple(sizes) and rows == batch:
        return problem
    arrays = {"x": tuple(r[:small[0]] for r in problem.arrays["x"][:rows]),
              "t": tuple(_target_row(r, small[-1]) for r in problem.arrays["t"][:rows])}
    for l in range(1, len(sizes)):
        arrays[f"W{l}"] = tuple(r[:small[l - 1]] for r in problem.arrays[f"W{l}"][:small[l]])
        if f"b{l}" in problem.arrays:
            arrays[f"b{l}"] = problem.arrays[f"b{l}"][:small[l]]
    copy = dataclasses.replace(problem, sizes=small, arrays=arrays, batch=rows)
    _WHOLE[copy] = problem
    return copy


def _small_sizes(sizes, named) -> tuple:
    """A few units per layer, in the same order as the real sizes (a layer wider than another stays
    wider: an index out of range in one is out of range in the other), and one more than any number
    `named` that fits the layer; never more than the real layer."""
    levels = sorted(set(sizes))
    small = [min(n, SMALL + levels.index(n)) for n in sizes]
    small = [max(c, min(n, max((x for x in named if x <= n), default=0) + 1)) for c, n in zip(small, sizes)]
    for _round in range(len(sizes) ** 2):
        changed = False
        for a, b in itertools.permutations(range(len(sizes)), 2):
            if sizes[a] > sizes[b] and small[a] <= small[b] < sizes[a]:
                small[a], changed = min(sizes[a], small[b] + 1), True
            elif sizes[a] == sizes[b] and small[a] < small[b]:
                small[a], changed = small[b], True
        if not changed:
            break
    return tuple(small)


def _target_row(row, n):
    """A target row cut to n units; a row that summed to 1 (a softmax's one-hot) still does."""
    cut = row[:n]
    if sum(row) == 1 and sum(cut) != 1:
        cut = cut[:-1] + (1 - sum(cut[:-1]),)
    return cut


def whole(problem):
    """The problem a smaller copy stands for (`reduced`), or the problem itself."""
    return _WHOLE.get(problem, problem)


def scalar_targets(solution) -> dict:
    d = solution.derivation
    out = d.graph.output
    names = ScalarNames({n.name: n.symbol for n in d.graph.nodes}, d.graph)
    targets = {}
    for g in d.steps:
        if g.node == out:
            continue
        ref = g.closed if g.closed is not None else g.expr
        targets[g.node] = Target(g.node, f"∂{out}/∂{g.node}", ref, names, [Instance({}, g.node)])
    return targets


def targets_of(solution, delta_sign: int | None = None) -> dict:
    kind = getattr(solution.problem, "kind", "scalar")
    if kind == "scalar":
        return scalar_targets(solution)
    if kind == "layers":  # the elements; whole matrices go through verify_matrix
        return layer_element_targets(solution, layout(solution))
    return network_targets(solution, delta_sign)


def layer_element_targets(solution, lay) -> dict:
    """Each element of a [layers] problem's matrices, as W[1,2] and as its leaf name w_12."""
    d = solution.derivation
    table = {n.name: n.symbol for n in d.graph.nodes}
    for rows in lay.nodes.get("dY", []):  # the upstream leaves g_nm, also written dY_nm
        for g in rows:
            table["dY_" + g.split("_", 1)[1]] = table["dy_" + g.split("_", 1)[1]] = symbol(g)
    for name in list(table):  # X_21 for x_21: a matrix's element in the matrix's own letter
        head, _, sub = name.partition("_")
        if sub and len(head) == 1 and head.isalpha():
            table.setdefault(head.swapcase() + "_" + sub, table[name])
    names = ScalarNames(table, d.graph)
    targets = {}
    for key in lay.grads:
        rows = lay.nodes[key]
        for r, row in enumerate(rows, 1):
            for c, leaf in enumerate(row, 1):
                element = f"{key}[{c}]" if key == "B" else f"{key}[{r},{c}]"
                g = d.gradient(leaf)
                swapped = rows[c - 1][r - 1] if key != "B" and r != c and c <= len(rows) \
                    and r <= len(row) else None
                t = Target(element, f"∂{d.graph.output}/∂{element}",
                           g.closed if g.closed is not None else g.expr, names,
                           [Instance({}, leaf)], transposed=swapped, kind="layer-element")
                targets[element] = t
                targets[leaf] = t
    return targets


def _free(built, rule) -> tuple[dict, bool]:
    """The layer spec of each free letter of a rule, and whether it is Nielsen's output rule."""
    nm = built.names
    output = nm.nielsen and "^L" in rule.target
    free = {}
    for x in rule.indices:
        if x == "n":
            free[x] = ("batch", 0)
        elif nm.nielsen:
            free[x] = ("L" if output else "r", {"j": 0, "k": -1, "i": 1}[x])
        else:
            free[x] = ("a", ({"i": 0, "j": 1, "k": 2} if nm.D == 2 else {"i": 0, "k": 1})[x])
    return free, output


def _generic(names: NetNames, expr):
    """A networks rule formula (IndexedBase w, delta^l+1 ...) in the vocabulary's objects."""
    def walk(e):
        if isinstance(e, sp.Sum):
            return sp.Sum(walk(e.function), *[(letter(str(v)), lo, FULL) for v, lo, _hi in e.limits])
        if isinstance(e, sp.Indexed):
            typed = f"{e.base.label}_{''.join(str(i) for i in e.indices)}"
            g = names.get(typed)
            if g is None:
                raise KeyError(typed)
            return g
        if e.is_Atom:
            return e
        return e.func(*[walk(a) for a in e.args])
    try:
        out, _ = names.resolve(walk(expr))
        return out
    except (KeyError, VerifyError):
        return None


def _delta_form(names: NetNames, rule):
    """A weight's or bias's rule written with δ of its own layer: δ_k h_j, Σ_n δ^L_nj a^L-1_nk."""
    if len(rule.factors) < 2 or rule.target.startswith("delta"):
        return None
    num, _den, local = rule.factors[-1]
    m = re.match(r"(net|z)(.*)$", num)
    d = names.get("delta" + m.group(2)) if m else None
    loc = _generic(names, local)
    if d is None or loc is None:
        return None
    expr = d * loc
    if names.batch > 1:
        expr = sp.Sum(expr, (letter("n"), 1, FULL))
    try:
        return names.resolve(expr)[0]
    except VerifyError:
        return None


def network_targets(solution, delta_sign: int | None = None) -> dict:
    result = solution.extra
    if getattr(solution.problem, "kind", "") != "network" or not getattr(result, "rules", None):
        raise VerifyError("expected a [network] problem (scalar circuits and [layers] problems have "
                          "their own targets)")
    built = build(solution.problem)
    sign = delta_sign if delta_sign is not None else getattr(solution.problem, "delta_sign", 1)
    loss = result.loss_name
    record = LOSSES.get(getattr(solution.problem, "loss", ""))
    half = record is not None and record.half
    targets, by_node = {}, {}
    for rule in result.rules:
        free, output = _free(built, rule)
        names = NetNames(built, free, output)
        instances = [Instance(dict(bind), node) for bind, node, _conc, _value in rule.instances]
        is_delta = rule.target.startswith("delta")
        label = display_name(rule.target) if is_delta else f"∂{loss}/∂{rule.target}"
        t = Target(rule.target, label, rule.expr, names, instances, half, tuple(rule.indices),
                   sign if is_delta else 1, "rule", rule, is_delta=is_delta,
                   generic=_generic(names, rule.expr))
        t.extra["delta_form"] = _delta_form(names, rule)
        targets[rule.target] = t
        for inst in instances:
            by_node[inst.node] = (rule, inst, names)
    for chain in result.chains:
        key = f"{chain.param}[{','.join(str(i) for i in chain.index)}]"
        rule, inst, names = by_node.get(chain.node, (None, Instance({}, chain.node), None))
        if names is None:
            continue
        transposed = None
        if len(chain.index) == 2 and chain.index[0] != chain.index[1]:
            transposed = f"{chain.param}[{chain.index[1]},{chain.index[0]}]"
        t = Target(key, f"∂{loss}/∂{key}", chain.chain.expr, names, [Instance(dict(inst.bindings), chain.node)],
                   half, kind="element", rule=rule, transposed=transposed,
                   generic=_generic(names, rule.expr) if rule is not None else None)
        t.extra["leaf"] = chain.node
        t.extra["delta_form"] = _delta_form(names, rule) if rule is not None else None
        targets[key] = t
    return targets


def _subscript_sample(name: str) -> str:
    """A per-sample name with its sample index as a subscript: delta^{L,(n)}_j and delta^L,(n)_j -> delta^L_nj,
    delta^(n)_k -> delta_nk."""
    return re.sub(r"\^\{?(?:([^,{}]+),)?\(n\)\}?_\{?([a-z])\}?$",
                  lambda m: (f"^{m.group(1)}" if m.group(1) else "") + f"_n{m.group(2)}", name)


def find_target(wrt: str, targets: dict) -> str | None:
    """--wrt as a key of `targets`: w_kj, w_{kj}, ∂E/∂w_kj, δ_k, w^{l}_{jk}, W2[1, 2], w^o_12, and
    in a batch delta^L_j for delta^L_nj."""
    if not isinstance(wrt, str):
        return None
    s = re.sub(r"\s", "", wrt)
    s = re.sub(r"^(?:\\frac\{\\partial[A-Za-z]+\}\{\\partial(.+)\}|∂[A-Za-z_]+/∂(.+)|d[ELCJ]/d(.+))$",
               lambda m: next(g for g in m.groups() if g), s)
    s = s.replace("\\delta", "δ").replace("−", "-")
    if s in targets:
        return s
    by_old_form = {_subscript_sample(k): k for k in targets}  # delta^L,(n)_j is also delta^L_nj
    if _subscript_sample(s) in by_old_form:
        return by_old_form[_subscript_sample(s)]
    m = re.fullmatch(r"([A-Za-z]+\d*)\[(\d+)(?:,(\d+))?\]", s)
    if m:
        key = f"{m.group(1)}[{m.group(2)}" + (f",{m.group(3)}]" if m.group(3) else "]")
        return key if key in targets else None
    m = re.fullmatch(r"([A-Za-z\u0370-\u03ff]+)(?:\^\{?([^_{}]+)\}?)?(?:_\{?([^{}^]+)\}?)?(?:\^\{?([^_{}]+)\}?)?", s)
    candidates = [s]
    if m:
        base, sup, sub = m.group(1), m.group(2) or m.group(4), m.group(3)
        candidates += canonical(base, sup, sub) if sub is not None else []
    for c in candidates:
        found = resolve_known(c, targets)
        if found:
            return found
        for key in targets:  # a batch: delta^L_j for delta^L_nj
            bare = re.sub(r"_n(?=[a-z]$)", "_", _subscript_sample(key))
            if bare == c or resolve_known(c, {bare: 1}):
                return key
    leaves = {t.extra.get("leaf"): k for k, t in targets.items() if t.extra.get("leaf")}
    for c in candidates:
        if c in leaves:
            return leaves[c]
    return None


def unknown_wrt(wrt, targets, matrices, problem=None) -> VerifyError:
    """--wrt that names no target: one line with what it may be, the elements as ranges, and a hint."""
    hint = wrt_hint(wrt, list(targets), problem)
    if matrices:
        return VerifyError(_("--wrt {wrt} is not a quantity with a gradient in this problem; expected a matrix "
                             "({matrices}) or one element ({elements}, ...)").format(
            wrt=repr(wrt), matrices=", ".join(matrices), elements=", ".join(list(targets)[:4])) + hint)
    if getattr(problem, "kind", "") == "network":
        rules = [k for k, t in targets.items() if t.kind == "rule"]
        elements = [k for k in targets if "[" in k]
        example = next((k for k in reversed(elements) if k.endswith("[1,2]")), elements[-1] if elements else "W1[1,1]")
        return VerifyError(_("--wrt {wrt} is not a quantity with a gradient in this problem; expected an index "
                             "form ({rules}) or one element such as {example} ({elements}){hint}").format(
            wrt=repr(wrt), rules=", ".join(rules), example=example, elements=", ".join(element_ranges(problem)),
            hint=hint))
    names = list(targets)
    shown = ", ".join(names[:40]) + (", ..." if len(names) > 40 else "")
    return VerifyError(_("--wrt {wrt} is not a quantity with a gradient in this problem; expected one of: "
                         "{names}").format(wrt=repr(wrt), names=shown) + hint)


def element_ranges(problem) -> list[str]:
    """A network's parameter elements as ranges: W1[1..64, 1..784], b1[1..64], ..."""
    sizes = problem.sizes
    out = []
    for l in range(1, len(sizes)):
        out.append(f"W{l}[1..{sizes[l]}, 1..{sizes[l - 1]}]")
        if problem.bias:
            out.append(f"b{l}[1..{sizes[l]}]")
    return out


def wrt_hint(wrt, names, problem=None) -> str:
    """' (did you mean ...?)', or what is wrong with an element's indices ('indices start at 1')."""
    if not isinstance(wrt, str):
        return ""
    s = re.sub(r"\s", "", wrt)
    m = re.fullmatch(r"([A-Za-z]+\d*)\[(-?\d+)(?:,(-?\d+))?\]", s)
    if m:
        idx = [int(g) for g in m.groups()[1:] if g is not None]
        if any(i < 1 for i in idx):
            return _(" (indices start at 1: the first element is {first})").format(
                first=f"{m.group(1)}[{','.join('1' for _i in idx)}]")
        if getattr(problem, "kind", "") == "network":
            shapes = {f"W{l}": (problem.sizes[l], problem.sizes[l - 1]) for l in range(1, len(problem.sizes))}
            shapes.update({f"b{l}": (problem.sizes[l],) for l in range(1, len(problem.sizes)) if problem.bias})
            if m.group(1) in shapes:
                shape = shapes[m.group(1)]
                return _(" ({name} has {shape} elements, indices from 1)").format(
                    name=m.group(1), shape="×".join(map(str, shape)))
            close = difflib.get_close_matches(m.group(1), list(shapes), n=2, cutoff=0.5)
            if close:
                return _(" (did you mean {names}?)").format(names=_(" or ").join(close))
    close = difflib.get_close_matches(s, [n for n in names if "[" not in n], n=3, cutoff=0.6)
    return _(" (did you mean {names}?)").format(names=_(" or ").join(close)) if close else ""


# ---------------------------------------------------------------- matrix layers

@dataclass(frozen=True)
class Layout:
    """Which matrices the problem has, their graph nodes and shapes."""
    names: tuple  # names an answer may use
    grads: tuple  # matrices with a gradient (--wrt)
    nodes: dict  # key -> 2-D list of node names (B: one row)
    upstream: str  # "dY" (affine alone) or "dA" (with Softmax-with-Loss)
    inputs: tuple  # the drawn matrices shown in a counterexample
    batch: int
    reduction: str = "sum"  # how the loss treats the batch: "sum" or "mean"


def layout(solution) -> Layout:
    p = solution.problem
    meta = build(p).meta
    cells: dict = {}
    for node, (key, r, c) in meta.items():
        cells.setdefault(key, {})[(r, c)] = node
    nodes = {}
    for key, cell in cells.items():
        rows, cols = max(r for r, _ in cell), max(c for _, c in cell)
        nodes[key] = [[cell[(r, c)] for c in range(1, cols + 1)] for r in range(1, rows + 1)]
    affine = p.stack[0] == "affine"
    swl = p.stack[-1] == "softmax_with_loss"
    grads = tuple(k for k in ("X", "W", "B") if k in nodes and affine) + (("A",) if swl else ())
    upstream = "dA" if swl else "dY"
    names = tuple(k for k in ("X", "W", "B", "A", "Y", "T") if k in nodes) + (upstream,)
    inputs = tuple(k for k in ("X", "W", "B", "A", "T", "dY") if k in p.arrays)
    return Layout(names, grads, nodes, upstream, inputs, p.batch, getattr(p, "reduction", "sum"))
