"""verify's answer table: problems, the right answers per target as trees, and the rows.

`rows()` gives (problem, wrt, text, truth, cls): right answers printed in many styles and
rewritten (factors reordered), single mutations of them (labelled right or wrong by the oracle,
never by derive), and malformed answers. `run(rows)` runs verify on each and counts what the
issue counts: wrong answers accepted, right answers refused, tracebacks, generic diagnoses.
"""
from __future__ import annotations

import random
from pathlib import Path

import mpmath
from verify_oracle import Graph, Net, Q
from verify_trees import ACTD_FORMS, Ctx, mutations, render, shuffled, value

EXAMPLES = Path(__file__).resolve().parents[2] / "derive" / "examples"

NEW_NETWORKS = {
    "mitchell_minus": """title = "2-3-2 sigmoid network, Mitchell's delta"
[network]
layers = [2, 3, 2]
activations = "sigmoid"
loss = "mse"
notation = "mitchell"
delta = "-dL/dnet"
[values]
x = [0.3, -0.6]
t = [0.2, 0.7]
W1 = [[0.1, -0.3], [0.4, 0.2], [-0.5, 0.6]]
b1 = [0.05, -0.1, 0.2]
W2 = [[0.3, -0.2, 0.5], [-0.4, 0.1, 0.6]]
b2 = [0.1, -0.05]
""",
    "mitchell_relu_batch": """title = "2-2-1 relu network over a batch, Mitchell's names"
[network]
layers = [2, 2, 1]
activations = ["relu", "identity"]
loss = "mse"
notation = "mitchell"
[values]
x = [[1.0, 2.0], [-0.5, 1.5]]
t = [[1.0], [-1.0]]
W1 = [[0.5, -0.25], [0.3, 0.4]]
b1 = [0.1, -0.2]
W2 = [[0.7, -0.4]]
b2 = [0.2]
""",
    "nielsen_2222": """title = "2-2-2-2 sigmoid network, Nielsen's names"
[network]
layers = [2, 2, 2, 2]
activations = "sigmoid"
loss = "mse"
notation = "nielsen"
[values]
x = [0.4, -0.7]
t = [0.9, 0.1]
W1 = [[0.2, -0.5], [0.6, 0.3]]
b1 = [0.1, -0.2]
W2 = [[-0.4, 0.7], [0.5, -0.1]]
b2 = [0.05, 0.15]
W3 = [[0.3, -0.6], [-0.2, 0.8]]
b3 = [-0.1, 0.2]
""",
    "nielsen_tanh_bce": """title = "tanh hidden layer, sigmoid output, binary cross-entropy"
[network]
layers = [2, 2, 2]
activations = ["tanh", "sigmoid"]
loss = "binary_cross_entropy"
notation = "nielsen"
[values]
x = [0.5, -0.3]
t = [1, 0]
W1 = [[0.4, -0.6], [0.2, 0.5]]
b1 = [0.1, 0.0]
W2 = [[0.7, -0.3], [-0.5, 0.4]]
b2 = [0.0, 0.1]
""",
}
BUILTIN_NETWORKS = ["mlp_222", "mlp_tanh_softmax", "mlp_nielsen", "mlp_relu_batch"]


def network_text(name: str) -> str:
    return NEW_NETWORKS.get(name) or (EXAMPLES / f"{name}.toml").read_text(encoding="utf-8")


# ---------------------------------------------------------------- right answers of a network

def _q(role, layer, *idx, n=None):
    return Q(role, layer, tuple(idx), n)


def _mul(*fs):
    return ("mul", list(fs))


def output_dnet(o: Net, L, u, n):
    """∂L/∂net at an output unit as a tree (the loss's derivative times the activation's)."""
    a, z, t = _q("act", L, u, n=n), _q("net", L, u, n=n), _q("target", L, u, n=n)
    act = o.acts[-1]
    if o.loss == "softmax_cross_entropy" or (o.loss == "binary_cross_entropy" and act == "sigmoid"):
        return [("sub", a, t), ("neg", ("sub", t, a))]
    if o.loss == "mse":
        d = ("actd", act, a, z)
        return [_mul(("sub", a, t), d), _mul(("neg", ("sub", t, a)), d), _mul(("grad", a), d)]
    raise ValueError(o.loss)


def _signed(o: Net, tree):
    return tree if o.sign == 1 else ("neg", tree)


def network_targets(name: str):
    """(wrt, ctx, instances [(bind, r)], truth(bind, r, pi), right trees) for every rule and a few elements."""
    o = Net(network_text(name))
    D, nl = o.D, o.notation == "nielsen"
    batch = o.batch > 1
    n = "n" if batch else None
    out = []
    samples = range(1, o.batch + 1)

    def truth_delta(bind, r, pi):
        return o.sign * o.grad(pi, ("z", r, bind["j" if nl else ("k" if r == D else "j")]), bind.get("n", 1))

    def truth_w(letters):
        return lambda bind, r, pi: o.grad(pi, ("w", r, bind[letters[0]], bind[letters[1]]))

    def truth_b(letter):
        return lambda bind, r, pi: o.grad(pi, ("b", r, bind[letter]))

    def insts(letters, r_list, with_n):
        rows = []
        for r in r_list:
            sizes = {"n": o.batch}
            if nl:
                sizes.update({"j": o.sizes[r], "k": o.sizes[r - 1]})
            else:
                sizes.update({"i": o.sizes[0], "j": o.sizes[1], "k": o.sizes[D]} if D == 2 else
                             {"i": o.sizes[0], "k": o.sizes[1]})
            names = (["n"] if with_n else []) + list(letters)
            combos = [{}]
            for x in names:
                combos = [{**c, x: v} for c in combos for v in range(1, sizes[x] + 1)]
            rows += [(c, r) for c in combos]
        return rows

    if nl:
        ctx_out = Ctx("nielsen", D, D, True, o.batch, o.sizes)
        j, k = "j", "k"
        dnets = output_dnet(o, ("r", 0), j, n)
        dsym = _q("delta", ("r", 0), j, n=n)
        prev = _q("act", ("r", -1), k, n=n)
        sum_n = (lambda body: ("sum", "n", "batch", body, None, None)) if batch else (lambda body: body)
        out.append((f"delta^L_{'n' if batch else ''}j", ctx_out, insts("j", [D], batch), truth_delta,
                    [_signed(o, d) for d in dnets]))
        out.append(("w^L_jk", ctx_out, insts("jk", [D], False), truth_w("jk"),
                    [sum_n(_mul(dsym, prev)), sum_n(_mul(prev, dsym))]
                    + [sum_n(_mul(d, prev)) for d in dnets[:2]]))
        if o.bias:
            out.append(("b^L_j", ctx_out, insts("j", [D], False), truth_b("j"),
                        [sum_n(dsym)] + [sum_n(d) for d in dnets[:1]]))
        hidden = [r for r in range(D - 1, 0, -1)]
        group = [hidden[0]] if hidden else []
        for r in hidden[1:]:
            if o.acts[r - 1] == o.acts[group[0] - 1]:
                group.append(r)
            else:
                break
        if group:
            ctx = Ctx("nielsen", D, group[0], False, o.batch, o.sizes)
            act = o.acts[group[0] - 1]
            a, z = _q("act", ("r", 0), j, n=n), _q("net", ("r", 0), j, n=n)
            nxt = ("sum", "i", ("r", 1), _mul(_q("w", ("r", 1), "i", j), _q("delta", ("r", 1), "i", n=n)), None, None)
            d = ("actd", act, a, z)
            hsym = _q("delta", ("r", 0), j, n=n)
            hprev = _q("act", ("r", -1), k, n=n)
            out.append((f"delta^l_{'n' if batch else ''}j", ctx, insts("j", group, batch), truth_delta,
                        [_mul(nxt, d), _mul(d, nxt), _mul(("grad", a), d)]))
            out.append(("w^l_jk", ctx, insts("jk", group, False), truth_w("jk"),
                        [sum_n(_mul(hprev, hsym)), sum_n(_mul(hsym, hprev)), sum_n(_mul(hprev, d, nxt))]))
            if o.bias:
                out.append(("b^l_j", ctx, insts("j", group, False), truth_b("j"), [sum_n(hsym), sum_n(_mul(d, nxt))]))
        # elements, in absolute names
        el = Ctx("nielsen", D, None, False, o.batch, o.sizes, absolute=True)
        for (jj, kk) in [(1, 2), (2, 1)]:
            if jj <= o.sizes[D] and kk <= o.sizes[D - 1]:
                ds = [_q("delta", D, jj, n=s) for s in samples]
                trees = [_sum_samples([_mul(_q("act", D - 1, kk, n=s if batch else None),
                                            _q("delta", D, jj, n=s if batch else None)) for s in samples])]
                if not batch:
                    trees += [_mul(_signed(o, output_dnet(o, D, jj, None)[0]), _q("act", D - 1, kk))]
                del ds
                out.append((f"W{D}[{jj},{kk}]", el, [({}, D)],
                            lambda b, r, pi, jj=jj, kk=kk: o.grad(pi, ("w", D, jj, kk)), trees))
        return o, out

    # Mitchell: x_i, h_j, o_k
    K = D
    ctx = Ctx("mitchell", D, None, False, o.batch, o.sizes)
    k, j, i = "k", "j", "i"
    hid = "j" if D == 2 else "i"
    dnets = output_dnet(o, K, k, n)
    dk = _q("delta", K, k, n=n)
    below = _q("act", K - 1, hid, n=n)
    sum_n = (lambda body: ("sum", "n", "batch", body, None, None)) if batch else (lambda body: body)

    def sgn(tree):
        return _signed(o, tree)
    out.append((f"delta_{'n' if batch else ''}k", ctx, insts("k", [K], batch), truth_delta, [sgn(d) for d in dnets]))
    out.append((f"w_k{hid}", ctx, insts(f"k{hid}", [K], False), truth_w(f"k{hid}"),
                [sum_n(sgn(_mul(dk, below))), sum_n(sgn(_mul(below, dk)))]
                + [sum_n(_mul(d, below)) for d in dnets[:2]]))
    if o.bias:
        out.append(("b_k", ctx, insts("k", [K], False), truth_b("k"), [sum_n(sgn(dk))] + [sum_n(d) for d in dnets[:1]]))
    if D == 2:
        act = o.acts[0]
        h, z = _q("act", 1, j, n=n), _q("net", 1, j, n=n)
        d = ("actd", act, h, z)
        s = ("sum", "k", K, _mul(dk, _q("w", K, k, j)), None, None)
        s_rev = ("sum", "k", K, _mul(_q("w", K, k, j), dk), None, None)
        s_exp = ("sum", "k", K, _mul(dnets[0], _q("w", K, k, j)), None, None)
        dj = _q("delta", 1, j, n=n)
        xi = _q("act", 0, i, n=n)
        out.append((f"delta_{'n' if batch else ''}j", ctx, insts("j", [1], batch), truth_delta,
                    [_mul(d, s), _mul(s_rev, d), sgn(_mul(("grad", h), d)), sgn(_mul(d, s_exp))]))
        out.append(("w_ji", ctx, insts("ji", [1], False), truth_w("ji"),
                    [sum_n(sgn(_mul(dj, xi))), sum_n(sgn(_mul(xi, d, s))), sum_n(_mul(xi, d, s_exp)),
                     sum_n(_mul(("grad", _q("net", 1, j, n=n)), xi))]))
        if o.bias:
            out.append(("b_j", ctx, insts("j", [1], False), truth_b("j"), [sum_n(sgn(dj)), sum_n(_mul(d, s_exp))]))
    if not batch and D == 2:
        el = Ctx("mitchell", D, None, False, 1, o.sizes)
        for kk, jj in [(1, 2), (2, 1)]:
            if kk <= o.sizes[D] and jj <= o.sizes[1]:
                trees = [sgn(_mul(_q("delta", K, kk), _q("act", 1, jj))),
                         _mul(output_dnet(o, K, kk, None)[0], _q("act", 1, jj))]
                out.append((f"W2[{kk},{jj}]", el, [({}, K)],
                            lambda b, r, pi, kk=kk, jj=jj: o.grad(pi, ("w", K, kk, jj)), trees))
    return o, out


def _sum_samples(terms):
    if len(terms) == 1:
        return terms[0]
    out = terms[0]
    for t in terms[1:]:
        out = ("add", out, t)
    return out


# ---------------------------------------------------------------- scalar graphs

def _sig(v):
    return 1 / (1 + mpmath.exp(-v))


SCALAR = {
    "quotient": ("""title = "The staged example with its gates named in the file"
[graph]
sigy = "sigmoid(y)"
num = "x + sigy"
sigx = "sigmoid(x)"
xpy = "x + y"
xpysqr = "xpy^2"
den = "sigx + xpysqr"
invden = "1/den"
f = "num*invden"
[values]
x = 3
y = -4
""", Graph({"x": 3, "y": -4}, [
        ("sigy", lambda e: _sig(e["y"])), ("num", lambda e: e["x"] + e["sigy"]), ("sigx", lambda e: _sig(e["x"])),
        ("xpy", lambda e: e["x"] + e["y"]), ("xpysqr", lambda e: e["xpy"] ** 2),
        ("den", lambda e: e["sigx"] + e["xpysqr"]), ("invden", lambda e: 1 / e["den"]),
        ("f", lambda e: e["num"] * e["invden"])])),
    "logistic": ("""title = "Logistic loss of one neuron"
[graph]
z = "w*x + b"
p = "sigmoid(z)"
f = "-(t*log(p) + (1 - t)*log(1 - p))"
[values]
w = 0.5
x = 1.5
b = -0.2
t = 1
""", Graph({"w": 0.5, "x": 1.5, "b": -0.2, "t": 1}, [
        ("z", lambda e: e["w"] * e["x"] + e["b"]), ("p", lambda e: _sig(e["z"])),
        ("f", lambda e: -(e["t"] * mpmath.log(e["p"]) + (1 - e["t"]) * mpmath.log(1 - e["p"])))])),
    "circuit": (None, Graph({"x": -2, "y": 5, "z": -4},
                            [("q", lambda e: e["x"] + e["y"]), ("f", lambda e: e["q"] * e["z"])])),
    "neuron_sigmoid": (None, Graph({"w_0": 2, "x_0": -1, "w_1": -3, "x_1": -2, "w_2": -3}, [
        ("z", lambda e: e["w_0"] * e["x_0"] + e["w_1"] * e["x_1"] + e["w_2"]), ("f", lambda e: _sig(e["z"]))])),
}


def _n(name):
    return Q("node", name=name)


def scalar_targets():
    X, Y = _n("x"), _n("y")
    num, den, invden, xpy, sigx, sigy = (_n(s) for s in ("num", "den", "invden", "xpy", "sigx", "sigy"))
    two = ("num", "2")
    over_den2 = ("div", num, ("pow", den, 2))
    quotient = [
        ("x", [("add", invden, _mul(("neg", over_den2), ("add", ("actd", "sigmoid", sigx, X), _mul(two, xpy)))),
               ("sub", ("sub", invden, _mul(two, num, ("div", xpy, ("pow", den, 2)))),
                ("div", _mul(num, ("actd", "sigmoid", sigx, X)), ("pow", den, 2)))]),
        ("y", [("sub", _mul(invden, ("actd", "sigmoid", sigy, Y)), ("div", _mul(two, num, xpy), ("pow", den, 2))),
               ("div", ("sub", _mul(("actd", "sigmoid", sigy, Y), den), _mul(two, xpy, num)), ("pow", den, 2))]),
        ("den", [("neg", over_den2), ("neg", _mul(num, ("pow", invden, 2)))]),
        ("sigy", [invden, ("div", ("num", "1"), den)]),
        ("xpy", [_mul(two, xpy, ("neg", over_den2)), ("neg", ("div", _mul(two, num, xpy), ("pow", den, 2)))]),
        ("invden", [num, ("add", X, sigy)]),
        ("num", [invden]),
    ]
    x, t, z, p = (_n(s) for s in ("x", "t", "z", "p"))
    logistic = [
        ("w", [_mul(("sub", p, t), x), _mul(x, ("sub", ("fn", "sigma", z), t))]),
        ("z", [("sub", p, t), ("neg", ("sub", t, p))]),
        ("p", [("add", ("neg", ("div", t, p)), ("div", ("sub", ("num", "1"), t), ("sub", ("num", "1"), p)))]),
        ("b", [("sub", p, t)]),
    ]
    q, zz = _n("q"), _n("z")
    circuit = [("x", [zz]), ("y", [zz]), ("z", [q, ("add", X, Y)]), ("q", [zz])]
    f, x0, w1 = _n("f"), _n("x_0"), _n("w_1")
    neuron = [("w_0", [_mul(x0, ("actd", "sigmoid", f, zz)), _mul(("actd", "sigmoid", f, zz), x0)]),
              ("x_1", [_mul(w1, ("actd", "sigmoid", f, zz))]),
              ("z", [("actd", "sigmoid", f, zz)])]
    return {"quotient": quotient, "logistic": logistic, "circuit": circuit, "neuron_sigmoid": neuron}


# ---------------------------------------------------------------- styles and rows

def styles(rng: random.Random, count: int, kind: str):
    """`count` random ways to write: plain or LaTeX, δ or delta, products, sums, superscripts ..."""
    out = [{}]
    for _ in range(count - 1):
        latex = rng.random() < 0.35
        s = {"latex": latex, "delta": rng.choice(["greek", "word"]), "sigma": rng.choice(["greek", "word", "fn"]),
             "mul": rng.choice(["juxt", "star", "cdot", "thin"]), "pow": rng.choice(["caret", "unicode"]),
             "sum": rng.choice(["paren", "bracket", "bare", "bounds", "expand"]),
             "sup": rng.choice(["brace", "plain", "subfirst"]), "unicode_minus": rng.random() < 0.2,
             "leftright": rng.random() < 0.5, "mathrm": rng.random() < 0.5, "grad": rng.choice(["partial", "d"]),
             "loss": rng.choice(["E", "L"]) if kind == "mitchell" else rng.choice(["C", "E"]),
             "ascii_prime": rng.random() < 0.5, "brace_sub": rng.random() < 0.3,
             "actd": {a: rng.choice(forms) for a, forms in ACTD_FORMS.items()}}
        out.append(s)
    return out


def _label(o, tree, instances, truth):
    """right if the tree equals the truth for every instance at all three oracle points."""
    try:
        with mpmath.workdps(60):
            for bind, r in instances:
                for pi in range(len(o.points)):
                    a, b = value(tree, o, pi, bind, r), truth(bind, r, pi)
                    if abs(a - b) > mpmath.mpf(10) ** -25 * max(1, abs(b)):
                        return "wrong"
    except (KeyError, IndexError, ZeroDivisionError, ValueError, TypeError):
        return "wrong"
    return "right"


MALFORMED = ["(o_k - t_k", "x +* y", r"\frac{1}{", "σ′", "sum_k", "foo_k h_j", r"\input{x}", "1e999999",
             "∂/∂x", "a[z > 0 > 1]", "=", "h_j''(x)"]


def rows(seed: int = 13, per_template: int = 4, mutants: int = 14):
    """The whole table: [(problem, wrt, text, truth, cls)] with truth right/wrong/malformed."""
    rng = random.Random(seed)
    out = []
    for name in BUILTIN_NETWORKS + list(NEW_NETWORKS):
        o, targets = network_targets(name)
        problem = name if name in BUILTIN_NETWORKS else NEW_NETWORKS[name]
        for wrt, ctx, instances, truth, trees in targets:
            letters = sorted({x for bind, _ in instances for x in bind})
            for tree in trees:
                for style in styles(rng, per_template, o.notation):
                    for t in (tree, shuffled(tree, rng)):
                        out.append((problem, wrt, render(t, style, ctx), _label(o, t, instances, truth), "rewrite"))
            muts = mutations(trees[0], letters, ctx)
            rng.shuffle(muts)
            for cls, t in muts[:mutants]:
                style = rng.choice(styles(rng, 3, o.notation))
                out.append((problem, wrt, render(t, style, ctx), _label(o, t, instances, truth), cls))
            for text in rng.sample(MALFORMED, 2):
                out.append((problem, wrt, text, "malformed", "malformed"))
    for name, trees_by_wrt in scalar_targets().items():
        text, graph = SCALAR[name]
        problem = text or name
        ctx = Ctx("scalar", 0)
        for wrt, trees in trees_by_wrt:
            def truth(bind, r, pi, wrt=wrt, graph=graph):
                return graph.grad(pi, wrt)
            for tree in trees:
                for style in styles(rng, per_template, "scalar"):
                    for t in (tree, shuffled(tree, rng)):
                        out.append((problem, wrt, render(t, style, ctx), _label(graph, t, [({}, None)], truth),
                                    "rewrite"))
            muts = mutations(trees[0], [], ctx)
            rng.shuffle(muts)
            for cls, t in muts[:mutants]:
                out.append((problem, wrt, render(t, rng.choice(styles(rng, 3, "scalar")), ctx),
                            _label(graph, t, [({}, None)], truth), cls))
    out += extra_rows(rng)
    seen, unique = set(), []
    for row in out:
        if (row[0], row[1], row[2]) not in seen:
            seen.add((row[0], row[1], row[2]))
            unique.append(row)
    return unique


def extra_rows(rng: random.Random):
    """Rows for what the generator does not write: equations (their left side checked), plain
    numbers, sums past the layer, a minus before a sum, names as the tool prints them."""
    out = []
    for name in BUILTIN_NETWORKS + list(NEW_NETWORKS):
        o, targets = network_targets(name)
        problem = name if name in BUILTIN_NETWORKS else NEW_NETWORKS[name]
        loss = "C" if o.notation == "nielsen" else "E"
        for wrt, ctx, instances, truth, trees in targets:
            right = render(trees[0], styles(rng, 2, o.notation)[1], ctx)
            label = _label(o, trees[0], instances, truth)
            if wrt.startswith("delta"):
                lhs = wrt.replace("delta", "δ")
                other = next((w for w, *_ in targets if w.startswith("delta") and w != wrt), None)
            else:
                lhs = f"∂{loss}/∂{wrt}"
                other = next((f"∂{loss}/∂{w}" for w, *_ in targets
                              if not w.startswith(("delta", "W", "b")) and w != wrt), None)
            out.append((problem, wrt, f"{lhs} = {right}", label, "equation"))
            if other:
                out.append((problem, wrt, f"{other.replace('delta', 'δ')} = {right}", "wrong", "equation-lhs"))
            bind, r = instances[0]
            with mpmath.workdps(30):
                number = mpmath.nstr(truth(bind, r, 0), 8)
            out.append((problem, wrt, number, "wrong", "number"))
            out.append((problem, wrt, str(round(float(number) * 3 + 1, 3)), "wrong", "number"))
    # sums written past the layer or its own way
    out += [
        ("mlp_222", "delta_j", r"h_j(1-h_j) \sum_{k=1}^{3} \delta_k w_{kj}", "malformed", "bounds-past"),
        ("mlp_222", "delta_j", r"h_j(1-h_j) \sum_{k=0}^{1} \delta_k w_{kj}", "malformed", "bounds-past"),
        ("mlp_222", "delta_j", r"h_j(1-h_j) \sum_{k=1}^{1} \delta_k w_{kj}", "wrong", "bounds"),
        ("mlp_222", "delta_j", r"h_j(1-h_j) \sum_{k=2}^{2} \delta_k w_{kj}", "wrong", "bounds"),
        ("mlp_222", "w_ji", r"-\sum_k (t_k - o_k) o_k(1-o_k) w_{kj} h_j(1-h_j) x_i", "right", "minus-sum"),
        ("mlp_222", "w_ji", "-sum_k((t_k - o_k) o_k(1-o_k) w_kj) h_j(1-h_j) x_i", "right", "minus-sum"),
        ("mlp_222", "w_ji", "x_i h_j(1-h_j) Σ_k (o_k - t_k) o_k(1-o_k) w_kj", "right", "textbook-sum"),
        ("mlp_222", "w_ji", "(δ_1 w_1j + δ_2 w_2j) h_j (1-h_j) x_i", "right", "expanded-sum"),
        ("mlp_222", "w_ji", "(δ_1 w_1j + δ_2 w_2j) h_j x_i", "wrong", "expanded-sum"),
        ("mlp_222", "w_ji", "(δ_1 w_1j + δ_2) h_j (1-h_j) x_i", "wrong", "expanded-sum"),
        ("mlp_222", "delta_j", "h_j(1-h_j) (δ_1 w_11 + δ_2 w_21)", "wrong", "expanded-sum"),
        ("mlp_222", "w_kj", "∂E/∂net_k h_j", "right", "named"),
        ("mlp_222", "w_kj", "∂E/∂o_k ∂o_k/∂net_k ∂net_k/∂w_kj", "right", "named"),
        ("mlp_222", "w_kj", "dE/do_k o_k (1 - o_k) h_j", "right", "named"),
        ("mlp_nielsen", "delta^l_j", "sum_i w^l+1_ij delta^l+1_i sigma'(z^l_j)", "right", "printed-names"),
        ("mlp_nielsen", "w^l_jk", "a^l-1_k delta^l_j", "right", "printed-names"),
        ("mlp_nielsen", "w^l_jk", "a^{l−1}_k δ^l_j", "right", "printed-names"),
        ("mlp_nielsen", "delta^l_j", "Σ_i w^{l+1}_ij δ^{l+1}_i σ′(z^l_j)", "right", "printed-names"),
        ("mlp_nielsen", "W2[1,2]", "a^2_2 delta^3_1", "right", "printed-names"),
        ("mlp_nielsen", "W1[2,1]", "a^1_1 delta^2_2", "right", "printed-names"),
        ("mlp_relu_batch", "w^L_jk", r"\sum_n a^{L-1}_{nk} \delta^L_{nj}", "right", "batch-sum"),
        ("mlp_relu_batch", "w^L_jk", "Σ_n a^{L-1,(n)}_k δ^{L,(n)}_j", "right", "batch-sum"),
        ("mlp_relu_batch", "w^L_jk", "a^{L-1}_k δ^L_j", "wrong", "batch-sum"),
        ("mlp_relu_batch", "delta^l_j", "1[z^l_nj > 0] Σ_i w^{l+1}_ij δ^{l+1}_ni", "right", "batch-sum"),
        ("mlp_tanh_softmax", "delta_j", "(1 - h_j²) Σ_k δ_k w_kj", "right", "unicode"),
        ("mlp_tanh_softmax", "delta_j", "sech(net_j)^2 Σ_k δ_k w_kj", "right", "vocabulary"),
        ("mlp_tanh_softmax", "delta_j", "h_j(1 - h_j) Σ_k δ_k w_kj", "wrong", "activation"),
        ("mlp_tanh_softmax", "delta_j", "(1 - h_j) Σ_k δ_k w_kj", "wrong", "activation"),
        ("mlp_222", "w_kj", "δ_k h_j h_j(1-h_j)", "wrong", "extra"),
        ("mlp_222", "w_kj", "δ_k h_j o_k(1-o_k)", "wrong", "extra"),
        ("mlp_222", "delta_j", "h_j(1-h_j) Σ_k δ_k w_kj o_k(1-o_k)", "wrong", "extra"),
        ("mlp_222", "w_ji", "δ_j x_i w_kj", "wrong", "extra"),
        ("mlp_nielsen", "w^L_jk", "a^{L-1}_k δ^L_j a^L_j(1-a^L_j)", "wrong", "extra"),
        ("mlp_nielsen", "delta^l_j", "Σ_i w^{l+1}_ij δ^{l+1}_i a^l_j(1-a^l_j) a^{l-1}_k", "wrong", "extra"),
        ("mlp_tanh_softmax", "delta_j", "(1 - h_j^2) Σ_k δ_k w_kj o_k(1-o_k)", "wrong", "extra"),
        ("mlp_222", "W1[1,2]", "h_1(1-h_1)(δ_1 w_12 + δ_2 w_22) x_2", "wrong", "element-weights"),
        ("mlp_222", "W1[1,2]", "h_1(1-h_1)(δ_1 w_11 + δ_2 w_21) x_2", "right", "element-weights"),
        ("mlp_222", "W1[1,2]", "h_1(1-h_1)(δ_1 w_11 + δ_2 w_21) x_1", "wrong", "element-weights"),
        ("mlp_222", "W1[2,1]", "h_2(1-h_2)(δ_1 w_12 + δ_2 w_22) x_1", "right", "element-weights"),
        ("mlp_222", "W1[2,1]", "h_2(1-h_2)(δ_1 w_21 + δ_2 w_22) x_1", "wrong", "element-weights"),
        ("mlp_222", "W1[2,1]", "h_2(1-h_2)(δ_1 w_12 + δ_2 w_22) x_1 + 0.001", "wrong", "element-weights"),
    ]
    return out


# ---------------------------------------------------------------- running the table

def solve_problem(key, cache={}):  # noqa: B006 (a per-process cache of solved problems)
    from derive import problems
    from derive.pipeline import solve
    if key not in cache:
        p = problems.loads(key, "table") if "\n" in key else problems.load(key)
        cache[key] = solve(p)
    return cache[key]


def judge(row):
    """(outcome, diagnosis): correct, wrong, error (a clear one-line refusal) or traceback."""
    from derive.errors import DeriveError
    from derive.grading.verify import verify
    problem, wrt, text, _truth, _cls = row
    try:
        v = verify(solve_problem(problem), wrt, text)
    except DeriveError as e:
        return "error", [str(e)]
    except Exception as e:  # counted: the "tracebacks"
        return "traceback", [f"{type(e).__name__}: {e}"]
    return ("correct" if v.correct else "wrong"), list(v.diagnosis)


GENERIC = "no single common mistake"


def tally(rows, outcomes) -> dict:
    counts = {"rows": len(rows), "right": 0, "wrong": 0, "malformed": 0, "false_correct": 0,
              "refused_right": 0, "tracebacks": 0, "generic": 0, "wrong_refused": 0}
    for row, (outcome, diag) in zip(rows, outcomes):
        truth = row[3]
        counts[truth] += 1
        counts["tracebacks"] += outcome == "traceback"
        if truth != "right" and outcome == "correct":
            counts["false_correct"] += 1
        if truth == "right" and outcome != "correct":
            counts["refused_right"] += 1
        if truth == "wrong" and outcome == "wrong" and any(GENERIC in d for d in diag):
            counts["generic"] += 1
        if truth == "wrong" and outcome in ("error", "traceback"):
            counts["wrong_refused"] += 1
    return counts


if __name__ == "__main__":
    import json
    import sys
    import time
    rows_ = rows()
    if len(sys.argv) > 1:
        step = int(sys.argv[1])
        rows_ = rows_[::step]
    start = time.perf_counter()
    outcomes, times = [], []
    for row in rows_:
        t0 = time.perf_counter()
        outcomes.append(judge(row))
        times.append(time.perf_counter() - t0)
    counts = tally(rows_, outcomes)
    counts["seconds"] = round(time.perf_counter() - start, 1)
    counts["median_seconds"] = round(sorted(times)[len(times) // 2], 3)
    print(json.dumps(counts))
    for row, (outcome, diag) in zip(rows_, outcomes):
        bad = (row[3] != "right" and outcome == "correct") or (row[3] == "right" and outcome != "correct") \
            or outcome == "traceback" or (row[3] == "wrong" and (outcome != "wrong" or any(GENERIC in d for d in diag)))
        if bad:
            name = row[0] if "\n" not in row[0] else row[0].split("\n")[0]
            print(f"{row[3]:9} {outcome:9} {row[4]:10} {name[:30]:30} {row[1]:10} {row[2]!r}  {diag[:2]}")
