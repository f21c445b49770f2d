"""derive verify walks every activation record: a network whose hidden layer uses it and a scalar
circuit f = act(x·y), answered with the derivative in every spelling the record lists (name′, each
spelling′, LaTeX \\operatorname{name}′, f′) and with closed forms written by hand below; the derivative
of a function the record says a student confuses with it is judged wrong as "the wrong activation".
A new activation row is tested here without a new line. The numbers verify compares against are
checked by central differences of a forward pass written here (the record gives only its function,
never its derivative), and the derivative each prime means is checked by central differences too."""
import pytest
import sympy as sp
from click.testing import CliRunner

from derive import problems
from derive.cli import main
from derive.engine.ops import FUNCTION_TABLE
from derive.engine.precision import mp as mpmath  # derive's context: its records compute at its precision
from derive.grading.answers import code_of
from derive.grading.verify import verify
from derive.pipeline import solve

ACTS = [f for f in FUNCTION_TABLE.values() if f.activation]
IN_PROBLEMS = [f for f in ACTS if f.in_problems]

# closed forms of each derivative at net_j, written by hand (in the net and in the unit's output h_j)
CLOSED = {
    "sigmoid": ["h_j(1 - h_j)", "σ(net_j)(1 - σ(net_j))", "exp(-net_j)/(1 + exp(-net_j))^2"],
    "tanh": ["1 - h_j^2", "1 - tanh(net_j)^2", "sech(net_j)^2", "(1 - h_j)(1 + h_j)"],
    "relu": ["step(net_j)", "1[net_j > 0]", r"\mathbb{1}[net_j > 0]"],
    "softplus": ["σ(net_j)", "sigmoid(net_j)", r"\sigma(net_j)", r"\sigma\left(\mathrm{net}_j\right)",
                 "1/(1 + exp(-net_j))", "exp(net_j)/(1 + exp(net_j))"],
    "leaky_relu": ["step(net_j) + 0.01 step(-net_j)", "1[net_j > 0] + 0.01·1[net_j < 0]"],
    "elu": ["step(net_j) + exp(net_j) step(-net_j)", "step(net_j) + (h_j + 1) step(-net_j)"],
    "swish": ["σ(net_j) + h_j(1 − σ(net_j))", "σ(net_j) + net_j σ(net_j)(1 − σ(net_j))",
              r"\sigma(net_j)\left(1 + net_j(1 - \sigma(net_j))\right)"],
    "identity": ["1"],
}

NETWORK = """
title = "2-2-2 network, {act} hidden units"
[network]
layers = [2, 2, 2]
activations = ["{act}", "sigmoid"]
loss = "mse"
notation = "mitchell"
[values]
x = [0.5, -0.8]
t = [0.2, 0.7]
W1 = [[0.6, -0.9], [-0.4, 0.7]]
b1 = [0.1, -0.2]
W2 = [[0.5, -0.6], [0.3, 0.8]]
b2 = [0.05, -0.1]
"""
VALUES = {"x": [0.5, -0.8], "t": [0.2, 0.7], "W1": [[0.6, -0.9], [-0.4, 0.7]], "b1": [0.1, -0.2],
          "W2": [[0.5, -0.6], [0.3, 0.8]], "b2": [0.05, -0.1]}

_SOLVED = {}


def network(act: str):
    if act not in _SOLVED:
        _SOLVED[act] = solve(problems.loads(NETWORK.format(act=act), f"net-{act}"))
    return _SOLVED[act]


def value(f, z):
    """The record's function (its mp form, parameters at their defaults): its definition, not a derivative."""
    return f.mp(mpmath.mpf(z), *[mpmath.mpf(v) for _, v in f.params])


def spelled_primes(f) -> list[str]:
    """Every head the record lists, with ' and with ′, and its derivative's own spellings."""
    heads = [f.name, *f.spellings, *f.answer_only]
    return [f"{h}{p}" for h in heads for p in ("'", "′")] + list(f.prime_spellings)


def hidden_rule(derivative: str) -> str:
    return f"x_i {derivative} Σ_k δ_k w_kj"


@pytest.mark.parametrize("f", ACTS, ids=lambda f: f.name)
def test_each_prime_means_the_derivative(f):
    # the derivative a student's f′(z) stands for, against central differences of f itself
    from derive.grading.answers import _call
    z = sp.Symbol("z")
    expr = _call(f.name + "′", [z])
    with mpmath.workdps(40):
        for at in ("-1.3", "0.4", "2.1"):
            got = sp.N(expr.subs(z, sp.Float(at, 40)), 40)
            fd = mpmath.diff(lambda u: value(f, u), mpmath.mpf(at))
            assert abs(float(got) - float(fd)) < 1e-12, (f.name, at, got, fd)


def _loss(f, W1, b1, W2, b2, x, t):
    h = [value(f, sum(W1[j][i] * x[i] for i in range(2)) + b1[j]) for j in range(2)]
    o = [1 / (1 + mpmath.exp(-(sum(W2[k][j] * h[j] for j in range(2)) + b2[k]))) for k in range(2)]
    return sum((t[k] - o[k]) ** 2 for k in range(2)) / 2


@pytest.mark.parametrize("f", ACTS, ids=lambda f: f.name)
def test_the_reference_is_the_finite_difference_gradient(f):
    # W1[1,2]: the weight from input 2 into hidden unit 1, at the problem's own values
    v = verify(network(f.name), "W1[1,2]", "0")
    cx = v.counterexample
    assert not v.correct and cx["own_point"]
    with mpmath.workdps(40):
        W1 = [[mpmath.mpf(str(w)) for w in row] for row in VALUES["W1"]]
        args = [[mpmath.mpf(str(w)) for w in row] for row in VALUES["W2"]]

        def loss(w):
            W = [row[:] for row in W1]
            W[0][1] = w
            return _loss(f, W, [mpmath.mpf(str(b)) for b in VALUES["b1"]], args,
                         [mpmath.mpf(str(b)) for b in VALUES["b2"]], [mpmath.mpf(str(a)) for a in VALUES["x"]],
                         [mpmath.mpf(str(a)) for a in VALUES["t"]])
        fd = mpmath.diff(loss, W1[0][1])
    assert cx["expected"] == pytest.approx(float(fd), rel=1e-9, abs=1e-12)


def _right_network_answers(f):
    out = [hidden_rule(p + "(net_j)") for p in spelled_primes(f)]
    heads = [h.replace("_", r"\_") for h in (f.name, *f.spellings, *f.answer_only) if h.isascii()]
    out += [rf"x_i \operatorname{{{h}}}'(net_j) \sum_k \delta_k w_{{kj}}" for h in heads]
    out += [rf"x_i \mathrm{{{h}}}^{{\prime}}(\mathrm{{net}}_j) \sum_{{k=1}}^{{2}} \delta_k w_{{kj}}" for h in heads]
    out += [hidden_rule("f′(net_j)"), hidden_rule("φ'(net_j)")]
    out += [hidden_rule(f"({c})") for c in CLOSED.get(f.name, [])]
    return out


@pytest.mark.parametrize("f,answer", [(f, a) for f in ACTS for a in _right_network_answers(f)],
                         ids=lambda x: getattr(x, "name", x))
def test_the_hidden_rule_in_every_spelling_is_right(f, answer):
    v = verify(network(f.name), "w_ji", answer)
    assert v.correct, (f.name, answer, v.read_as, v.diagnosis, v.counterexample)


@pytest.mark.parametrize("f,other", [(f, FUNCTION_TABLE[o]) for f in ACTS for o in f.confused],
                         ids=lambda x: x.name)
def test_a_confused_derivative_is_the_wrong_activation(f, other):
    v = verify(network(f.name), "w_ji", hidden_rule(f"{other.name}′(net_j)"))
    assert not v.correct
    assert "wrong-activation" in [code_of(d) for d in v.diagnosis], (f.name, other.name, v.diagnosis)


def test_a_sigmoid_derivative_written_for_softplus_is_wrong():
    v = verify(network("softplus"), "w_ji", "x_i h_j(1 − h_j) Σ_k δ_k w_kj")
    assert not v.correct
    wrong = [d for d in v.diagnosis if code_of(d) == "wrong-activation"]
    assert wrong and "h_j(1 − h_j)" in wrong[0] and "softplus unit" in wrong[0], v.diagnosis


def test_verify_on_the_command_line(tmp_path):
    for f in IN_PROBLEMS:
        path = tmp_path / f"{f.name}.toml"
        path.write_text(NETWORK.format(act=f.name), encoding="utf-8")
        ok = CliRunner().invoke(main, ["verify", str(path), "--wrt", "w_ji", "--answer",
                                       hidden_rule(f"{f.name}'(net_j)")])
        assert ok.exit_code == 0, (f.name, ok.output)
    bad = CliRunner().invoke(main, ["verify", str(tmp_path / "softplus.toml"), "--wrt", "w_ji", "--answer",
                                    hidden_rule("h_j(1 - h_j)")])
    assert bad.exit_code == 1 and "wrong activation" in bad.output, bad.output


# ---------------------------------------------------------------- scalar circuits f = act(x·y)

X, Y = 0.7, 1.3


def circuit(f):
    key = ("circuit", f.name)
    if key not in _SOLVED:
        _SOLVED[key] = solve(problems.loads(f'[graph]\nf = "{f.name}(x*y)"\n[values]\nx = {X}\ny = {Y}\n',
                                            f"circuit-{f.name}"))
    return _SOLVED[key]


def _right_scalar_answers(f):
    out = [f"y {p}(x y)" for p in spelled_primes(f)]
    out += [f"y ({c.replace('net_j', '(x y)').replace('h_j', f'{f.name}(x y)')})" for c in CLOSED.get(f.name, [])
            if "\\" not in c]
    return out


@pytest.mark.parametrize("f,answer", [(f, a) for f in IN_PROBLEMS for a in _right_scalar_answers(f)],
                         ids=lambda x: getattr(x, "name", x))
def test_a_scalar_circuit_in_every_spelling_is_right(f, answer):
    v = verify(circuit(f), "x", answer)
    assert v.correct, (f.name, answer, v.read_as, v.diagnosis, v.counterexample)


@pytest.mark.parametrize("f", IN_PROBLEMS, ids=lambda f: f.name)
def test_a_scalar_circuit_checks_against_finite_differences(f):
    v = verify(circuit(f), "x", "0")
    with mpmath.workdps(40):
        fd = mpmath.diff(lambda x: value(f, x * mpmath.mpf(str(Y))), mpmath.mpf(str(X)))
    assert not v.correct and v.counterexample["own_point"]
    assert v.counterexample["expected"] == pytest.approx(float(fd), rel=1e-9, abs=1e-12)
    wrong = verify(circuit(f), "x", f"x {f.name}′(x y)")  # x where y belongs
    assert not wrong.correct
