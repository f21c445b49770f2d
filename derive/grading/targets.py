"""The gradients a student may be asked for, per problem kind, as Targets; and --wrt read as one.

Scalar graphs: every node. Networks: each index-form rule (w_kj, delta^l_j, ...) with every
instance it covers, and each element (W2[1,2], or its leaf name w^o_12). Matrix layers: each
element (W[1,2], w_12); whole matrices go through `matrix_answers`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from ..engine.ops import LOSSES
from ..engine.parse import symbol
from ..networks.solve import build
from .answers import Instance, Target, VerifyError
from .showing import display_name
from .typed_names import canonical, resolve_known
from .vocabulary import FULL, NetNames, ScalarNames, letter


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
            table["dY_" + g.split("_", 1)[1]] = symbol(g)
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
            if re.sub(r"_n(?=[a-z]$)", "_", key) == c or (resolve_known(c, {re.sub(r"_n(?=[a-z]$)", "_", key): 1})):
                return key
    leaves = {t.extra.get("leaf"): k for k, t in targets.items() if t.extra.get("leaf")}
    for c in candidates:
        if c in leaves:
            return leaves[c]
    return None


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
    return Layout(names, grads, nodes, upstream, inputs, p.batch)
