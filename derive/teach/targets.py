"""The gradients a student may be asked for, per problem kind, as Targets.

Scalar graphs: every node. Networks: each index-form rule (w_kj, delta^l_j, ...) with every
instance it covers, and each element (W2[1,2]). Matrix layers: each element (W[1,2], w_12).
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..engine.parse import symbol
from ..networks.resolver import concretize, letter
from ..networks.solve import build
from .answers import Instance, Target, VerifyError


def scalar_targets(solution) -> dict:
    d = solution.derivation
    out = d.graph.output
    names = {n.name: n.symbol for n in d.graph.nodes}
    targets = {}
    for g in d.steps:
        if g.node == out:
            continue
        ref = g.closed if g.closed is not None else g.expr
        targets[g.node] = Target(g.node, f"∂{out}/∂{g.node}", ref, names,
                                 [Instance({}, g.node, lambda e: e)])
    return targets


def targets_of(solution) -> dict:
    if solution.problem.kind == "scalar":
        return scalar_targets(solution)
    if solution.problem.kind == "layers":  # the elements; whole matrices go through verify_matrix
        return layer_element_targets(solution, layout(solution))
    return network_targets(solution)


def layer_element_targets(solution, lay) -> dict:
    """Each element of a [layers] problem's matrices, as W[1,2] and as its leaf name w_12."""
    d = solution.derivation
    names = {n.name: n.symbol for n in d.graph.nodes}
    for rows in lay.nodes.get("dY", []):  # the upstream leaves g_nm, also written dY_nm
        for g in rows:
            names["dY_" + g.split("_", 1)[1]] = symbol(g)
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
                           [Instance({}, leaf, lambda e: e)], transposed=swapped)
                targets[element] = t
                targets[leaf] = t
    return targets


def _letters(res, r):
    out = {"n"} if res.batch > 1 else set()
    for m in range(res.D + 1):
        try:
            out.add(res._letter(m, r))
        except KeyError:
            continue
    return sorted(out)


def _generic_names(res, r) -> dict:
    """Every generic quantity of rule layer r as a user types it (o_k, w_kj, a^l-1_k ...)."""
    out = {}
    roles = {"act": range(0, res.D + 1), "net": range(1, res.D + 1), "w": range(1, res.D + 1),
             "b": range(1, res.D + 1), "delta": range(1, res.D + 1), "target": [res.D]}
    for role, layers in roles.items():
        for m in layers:
            try:
                base = res.base(role, m, r)
                letters = [res._letter(m, r)] + ([res._letter(m - 1, r)] if role == "w" else [])
            except KeyError:
                continue
            if res.batch > 1 and role in res.PER_SAMPLE:
                letters = ["n"] + letters
            g = sp.IndexedBase(base)[tuple(letter(x) for x in letters)]
            out[res.label(g)] = g
    return out


class _GenericNames(dict):
    """Known generic names, and any other index letters on a known base (w_jk, x_j: wrong-index
    answers still mean something and get a diagnosis)."""

    def __init__(self, table, letters):
        super().__init__(table)
        self.bases = {str(g.base.label): len(g.indices) for g in table.values() if isinstance(g, sp.Indexed)}
        self.index_letters = set(letters)

    def __contains__(self, name):
        return dict.__contains__(self, name) or self._parse(name) is not None

    def __getitem__(self, name):
        if dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        g = self._parse(name)
        if g is None:
            raise KeyError(name)
        return g

    def _parse(self, name):
        if not isinstance(name, str) or "_" not in name:
            return None
        base, idx = name.rsplit("_", 1)
        if base not in self.bases or len(idx) != self.bases[base]:
            return None
        if not all(ch in self.index_letters or ch.isdigit() for ch in idx):
            return None
        return sp.IndexedBase(base)[tuple(sp.Integer(int(ch)) if ch.isdigit() else letter(ch) for ch in idx)]


def network_targets(solution) -> dict:
    result = solution.extra
    res = getattr(result, "resolver", None)
    if res is None or getattr(solution.problem, "kind", "") != "network":
        raise VerifyError("expected a [network] problem (scalar circuits and [layers] problems have "
                          "their own targets)")
    loss = result.loss_name
    half = getattr(solution.problem, "loss", "") == "mse"
    delta_env = {symbol(dname): net for net, dname in result.deltas.items()}
    concrete_names = {n.name: n.symbol for n in solution.derivation.graph.nodes}
    concrete_names.update({name: s for name, s in ((k.name, k) for k in delta_env)})
    targets = {}
    for rule in result.rules:
        r = (rule.ranges["l"][1] - 1 if "l" in rule.ranges else res.D) if res.nm.nielsen else res.D
        table = _GenericNames(_generic_names(res, r), _letters(res, r))

        def summable(index, body, r=r):
            if res.nm.nielsen:
                upper = res.size_symbol(r + 1, r) if r < res.D else None
            else:
                by = {res._letter(m, r): m for m in range(res.D + 1)}
                upper = sp.Integer(res.nm.sizes[by[index]]) if index in by else None
            if upper is None:
                raise VerifyError(f"cannot sum over {index}: it is not the index of a layer here")
            return sp.Sum(body, (letter(index), 1, upper))

        instances = []
        for bind, node, _conc, _value in rule.instances:
            generic = {}
            for lab, g in dict.items(table):
                try:
                    c = concretize(rule, g, bind)
                except (KeyError, IndexError):
                    continue
                if c.is_Symbol:
                    generic.setdefault(c.name, lab)
            instances.append(Instance(dict(bind), node,
                                      lambda e, b=dict(bind), rule=rule: concretize(rule, e, b).doit(),
                                      generic))
        is_delta = rule.target.startswith("delta")
        label = rule.target if is_delta else f"∂{loss}/∂{rule.target}"
        targets[rule.target] = Target(rule.target, label, rule.expr, table, instances, half,
                                      tuple(rule.indices), dict(rule.ranges), summable, rule, delta_env)
    elements = {c.node: f"{c.param}[{','.join(str(i) for i in c.index)}]" for c in result.chains}
    for chain in result.chains:
        key = f"{chain.param}[{','.join(str(i) for i in chain.index)}]"
        rule, bind = next(((rl, inst[0]) for rl in result.rules for inst in rl.instances
                           if inst[1] == chain.node), (None, None))
        names = dict(concrete_names)
        def to_graph(e):
            return (e)
        if rule is not None:
            names.update(targets[rule.target].names)
            def to_graph(e, b=bind, rule=rule):
                return (concretize(rule, e, b).doit())
        transposed = None
        if len(chain.index) == 2 and chain.index[0] != chain.index[1]:
            transposed = f"{chain.param}[{chain.index[1]},{chain.index[0]}]"
        targets[key] = Target(key, f"∂{loss}/∂{key}", chain.chain.expr, names,
                              [Instance({}, chain.node, to_graph, elements)], half,
                              summable=targets[rule.target].summable if rule else None,
                              extra_env=delta_env, transposed=transposed)
    return targets


def _index_letters(expr) -> set:
    """Index letters used outside any sum that binds them."""
    if isinstance(expr, sp.Sum):
        inner = _index_letters(expr.function)
        return inner - {str(v) for v, *_ in expr.limits}
    if isinstance(expr, sp.Indexed):
        return {str(i) for i in expr.indices if i.is_Symbol}
    out = set()
    for a in expr.args:
        out |= _index_letters(a)
    return out


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
