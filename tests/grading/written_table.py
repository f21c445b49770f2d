"""A table of answers written the way students write them (issue 26's refused classes), by class.

Every right row is a textbook identity of the gradient asked for (sech² = 1 − tanh², the j-th
component of Wᵀδ is Σ_i w_ij δ_i, Σ_n dY_{n,:} is the column sum, e^{net_k}/Σ_m e^{net_m} is the
softmax output o_k, ∂(qz)/∂q = z) spelled in many ways; every wrong row is the same answer with one
mistake put in (a sign, the wrong layer, a missing factor), so its label never comes from derive.
`rows()` gives (problem, wrt, text, truth, cls); truth is "right", "wrong" or "malformed".
"""
from __future__ import annotations

from itertools import product

ABS_GRAPH = """title = "absolute values"
[graph]
a = "abs(x)"
f = "a*y"
[values]
x = -1.5
y = 2.0
"""

SIG_PRIMES = ["σ'(z^l_j)", "σ′(z^l_j)", r"\sigma'(z^l_j)", "a^l_j(1-a^l_j)", r"\sigma^{\prime}(z^l_j)"]
COMPONENTS_NIELSEN = [r"((w^{l+1})^T \delta^{l+1})_j", "((w^{l+1})^T δ^{l+1})_j", "[Wᵀδ]_j", "(W^T δ)_j",
                      r"\left[(w^{l+1})^{\top} \delta^{l+1}\right]_j", "((w^{l+1})ᵀ δ^{l+1})_j",
                      "[(w^{l+1})^T delta^{l+1}]_{j}", r"(W^{T}\delta)_j"]
COMPONENTS_MITCHELL = ["[Wᵀδ]_j", "(W^T δ)_j", r"(W^\top \delta)_j", r"\left[W^{T}\delta\right]_j", "[W^T*δ]_j"]
TANH_PRIMES = ["(1 − tanh²(net_j))", "sech²(net_j)", "(1 - tanh^2(net_j))", "(1-tanh^(2)(net_j))", "sech^2(net_j)",
               r"(1 - \tanh^2(net_j))", r"\operatorname{sech}^2(net_j)", "(1 - h_j²)", "(1-tanh(net_j)^2)"]
MITCHELL_SUMS = ["Σ_k δ_k w_kj", "[Wᵀδ]_j", "(W^T δ)_j", "sum_k(w_kj delta_k)"]
SOFTMAX = [r"e^{net_k} / Σ_m e^{net_m} − t_k", r"\frac{e^{net_k}}{\sum_m e^{net_m}} - t_k",
           r"\frac{\exp(net_k)}{\sum_{p} \exp(net_p)} - t_k", "exp(net_k)/sum_q(exp(net_q)) - t_k",
           r"\frac{e^{net_k}}{\sum_{m=1}^{K} e^{net_m}} - t_k", "e^(net_k)/Σ_k e^(net_k) − t_k"]
SAMPLE_TARGETS = ["a^{L,(n)}_j - y^{(n)}_j", "a^L_{nj} - y^{(n)}_j", "a^{L}_{nj} - y^{(n)}_{j}", "a^L_nj - y^{(n)}_j",
                  "-(y^{(n)}_j - a^{L,(n)}_j)"]


def _flip(s: str) -> str:
    return f"-({s})"


def network_rows():
    out = []
    # components of a matrix product (Nielsen's BP2), every spelling of σ′
    for comp, prime in product(COMPONENTS_NIELSEN, SIG_PRIMES):
        out.append(("mlp_nielsen", "delta^l_j", f"{comp} {prime}", "right", "component"))
    for comp, prime in product(COMPONENTS_NIELSEN[:4], SIG_PRIMES[:3]):
        out.append(("mlp_nielsen", "delta^l_j", f"{comp} {prime} a^l_j", "wrong", "component"))
        out.append(("mlp_nielsen", "delta^l_j", _flip(f"{comp} {prime}"), "wrong", "component"))
        out.append(("mlp_nielsen", "w^l_jk", f"a^{{l-1}}_k {comp} {prime}", "right", "component"))
        out.append(("mlp_nielsen", "w^l_jk", f"a^{{l}}_k {comp} {prime}", "wrong", "component"))
    for comp, prime in product(COMPONENTS_MITCHELL, ["h_j(1-h_j)", "σ'(net_j)"]):
        out.append(("mlp_222", "delta_j", f"{prime} {comp}", "right", "component"))
        out.append(("mlp_222", "w_ji", f"x_i {prime} {comp}", "right", "component"))
        out.append(("mlp_222", "w_ji", f"x_i {comp}", "wrong", "component"))
        out.append(("mlp_222", "delta_j", f"2 {prime} {comp}", "wrong", "component"))
    # powers of functions
    for tprime, s in product(TANH_PRIMES, MITCHELL_SUMS):
        out.append(("mlp_tanh_softmax", "delta_j", f"{tprime} {s}", "right", "function-power"))
        out.append(("mlp_tanh_softmax", "w_ji", f"x_i {tprime} {s}", "right", "function-power"))
    for tprime in TANH_PRIMES[:5]:
        out.append(("mlp_tanh_softmax", "delta_j", f"{tprime} Σ_k δ_k w_kj h_j", "wrong", "function-power"))
        out.append(("mlp_tanh_softmax", "delta_j", f"{tprime}", "wrong", "function-power"))
    # softmax written out with its own summation letter
    for s in SOFTMAX:
        out.append(("mlp_tanh_softmax", "delta_k", s.replace("Σ_k e^(net_k)", "Σ_m e^(net_m)"), "right", "softmax"))
        out.append(("mlp_tanh_softmax", "w_kj", f"({s.replace('Σ_k e^(net_k)', 'Σ_m e^(net_m)')}) h_j", "right",
                    "softmax"))
        out.append(("mlp_tanh_softmax", "delta_k", s.replace("- t_k", "+ t_k").replace("− t_k", "+ t_k"), "wrong",
                    "softmax"))
    # sample superscripts on targets
    for s in SAMPLE_TARGETS:
        out.append(("mlp_relu_batch", "delta^L_nj", s, "right", "sample-target"))
        out.append(("mlp_relu_batch", "delta^L_nj", f"2({s})", "wrong", "sample-target"))
        out.append(("mlp_relu_batch", "w^L_jk", f"Σ_n a^{{L-1,(n)}}_k ({s})", "right", "sample-target"))
    # ReLU: a flipped indicator, relu where relu′ belongs (specific diagnoses)
    body = "Σ_i w^{l+1}_ij δ^{l+1}_ni"
    for ind in ["1[z^l_nj > 0]", "𝟙(z^l_nj > 0)", r"\mathbb{1}[z^l_{nj} > 0]", "step(z^l_nj)", "relu'(z^l_nj)"]:
        out.append(("mlp_relu_batch", "delta^l_nj", f"{ind} {body}", "right", "relu"))
    for ind in ["1[z^l_nj < 0]", "𝟙(z^l_nj < 0)", "1[0 > z^l_nj]", r"\mathbb{1}[z^l_{nj} < 0]"]:
        out.append(("mlp_relu_batch", "delta^l_nj", f"{ind} {body}", "wrong", "relu-flipped"))
    for act in ["relu(z^l_nj)", "ReLU(z^l_nj)", r"\operatorname{relu}(z^l_{nj})", "max(0, z^l_nj)"]:
        out.append(("mlp_relu_batch", "delta^l_nj", f"{act} {body}", "wrong", "relu-for-prime"))
    return out


def scalar_rows():
    out = []
    for text in [r"\frac{\partial (qz)}{\partial q}", "∂(qz)/∂q", "∂(q z)/∂q",
                 r"\frac{\partial (q \cdot z)}{\partial q}"]:
        out.append(("circuit", "q", text, "right", "partial-expression"))
        out.append(("circuit", "q", f"2 {text}", "wrong", "partial-expression"))
    for text in [r"z \frac{\partial (x+y)}{\partial x}", r"\frac{\partial (x+y)}{\partial x} \cdot z",
                 "z ∂(x + y)/∂x", r"\frac{\partial (x+y)}{\partial x} \frac{\partial (qz)}{\partial q}",
                 r"\frac{\partial x^2}{\partial x} \frac{z}{2x}", r"\frac{\partial (xz)}{\partial x}"]:
        out.append(("circuit", "x", text, "right", "partial-expression"))
        out.append(("circuit", "x", f"-{text}", "wrong", "partial-expression"))
    for text in ["|x|", r"\left|x\right|", r"\lvert x \rvert", "a", "abs(x)", "|x| + 0", "(|x|)"]:
        out.append((ABS_GRAPH, "y", text, "right", "abs"))
        out.append((ABS_GRAPH, "y", f"2{text}", "wrong", "abs"))
        out.append((ABS_GRAPH, "y", f"-{text}", "wrong", "abs"))
    for text in ["y |x|/x", "y x/|x|", r"y \frac{x}{|x|}", "y sign(x)"]:
        out.append((ABS_GRAPH, "x", text, "right", "abs"))
    for text in ["|x", "x|", "||x|"]:
        out.append((ABS_GRAPH, "y", text, "malformed", "abs"))
    # the staged example: a denominator not squared, in every part it appears
    out += [("staged", "den", "-num/den", "wrong", "quotient"), ("staged", "den", "-num/den^2", "right", "quotient"),
            ("staged", "den", r"-\frac{num}{den^2}", "right", "quotient"),
            ("staged", "den", r"-\frac{num}{den}", "wrong", "quotient")]
    return out


def matrix_rows():
    out = []
    for text in [r"\sum_n dY_{n,:}", "sum_n dY[n,:]", "Σ_n dY[n,:]", r"\sum_{n=1}^{N} dY_{n,:}",
                 "dY[1,:] + dY[2,:]", "dY[0,:] + dY[1,:]", "∂L/∂B = colsum(dY)", "dL/dB = 1^T dY",
                 r"\frac{\partial L}{\partial B} = \sum_n dY_{n,:}"]:
        out.append(("affine_layer", "B", text, "right", "matrix-sum"))
    for text in ["dY[1,:]", "dY[2,:]", "dY[0,:]", "2 dY[1,:] + dY[2,:]", r"\sum_n dY_{n,:} / 2", "dY[:,1]"]:
        out.append(("affine_layer", "B", text, "wrong", "matrix-sum"))
    for text in ["∂L/∂W = X^T dY", "dL/dW = X^T dY", r"\frac{\partial L}{\partial W} = X^{\top} dY", "dW = X^T dY",
                 r"\frac{\partial L}{\partial W} = X^\top \frac{\partial L}{\partial Y}"]:
        out.append(("affine_layer", "W", text, "right", "matrix-equation"))
        out.append(("affine_layer", "W", text.replace("X^", "2 X^"), "wrong", "matrix-equation"))
        out.append(("affine_layer", "W", text.replace("W", "X", 1), "malformed", "matrix-equation"))
    for text in ["∂L/∂A = Y − T", "dL/dA = Y - T", r"\frac{\partial L}{\partial A} = Y - T", "dA = Y - T",
                 "Y ⊙ 1 - T", r"Y \odot 1 - T ∘ 1"]:
        out.append(("softmax_with_loss", "A", text, "right", "matrix-equation"))
        out.append(("softmax_with_loss", "A", text.replace("Y", "2Y", 1), "wrong", "matrix-equation"))
    for text in ["Y ⊙ T", r"Y \odot (Y - T)", "Y ∘ Y - T"]:
        out.append(("softmax_with_loss", "A", text, "wrong", "hadamard"))
    return out


def head_rows():
    """Softmax or sigmoid with cross-entropy (∂L/∂net = o − t): the output's derivative multiplied in
    again, ∂L/∂o where ∂L/∂net belongs, the target's sign; and Nielsen's layer one off."""
    from verify_table import NEW_NETWORKS
    out = []
    for extra in ["o_k(1 - o_k)", "o_k (1-o_k)", r"o_k \cdot (1 - o_k)", "(1 - o_k) o_k", "σ'(net_k)"]:
        for right, (wrt, pre) in product(["(o_k - t_k)", "(o_k − t_k)", r"\left(o_k - t_k\right)"],
                                         [("delta_k", ""), ("w_kj", "h_j "), ("b_k", "")]):
            out.append(("mlp_tanh_softmax", wrt, f"{pre}{right}", "right", "softmax-head"))
            if extra != "σ'(net_k)":
                out.append(("mlp_tanh_softmax", wrt, f"{pre}{extra} {right}", "wrong", "softmax-head"))
    for wrt, pre in [("delta_k", ""), ("w_kj", "h_j "), ("b_k", "")]:
        for wrong in ["-t_k/o_k", "- t_k / o_k", r"-\frac{t_k}{o_k}", "(-t_k/o_k)", "o_k + t_k", "(t_k + o_k)"]:
            out.append(("mlp_tanh_softmax", wrt, f"{pre}{wrong}" if pre == "" else f"{pre}({wrong})", "wrong",
                        "softmax-head"))
    for tprime in TANH_PRIMES[:3]:
        out.append(("mlp_tanh_softmax", "delta_j", f"{tprime} Σ_k w_kj o_k(1 - o_k)(o_k - t_k)", "wrong",
                    "softmax-head"))
        out.append(("mlp_tanh_softmax", "delta_j", f"{tprime} Σ_k w_kj (o_k + t_k)", "wrong", "softmax-head"))
    bce = NEW_NETWORKS["nielsen_tanh_bce"]
    for wrt, pre in [("delta^L_j", ""), ("w^L_jk", "a^{L-1}_k "), ("b^L_j", "")]:
        out.append((bce, wrt, f"{pre}(a^L_j - y_j)", "right", "softmax-head"))
        for wrong in ["a^L_j(1-a^L_j)(a^L_j - y_j)", "σ'(z^L_j)(a^L_j - y_j)", "(a^L_j + y_j)",
                      "(a^L_j - y_j)/(a^L_j(1-a^L_j))", "(-y_j/a^L_j + (1-y_j)/(1-a^L_j))"]:
            out.append((bce, wrt, f"{pre}{wrong}", "wrong", "softmax-head"))
    deep = NEW_NETWORKS["nielsen_2222"]
    body = {"w": "w^{l+1}_kj", "d": "δ^{l+1}_k", "s": "σ'(z^l_j)"}
    for key, wrong in [("d", "δ^{l}_k"), ("d", "δ^{l+2}_k"), ("w", "w^{l}_kj"), ("s", "σ'(z^{l+1}_j)"),
                       ("s", "σ'(z^{l-1}_j)"), ("s", "a^{l-1}_j(1 - a^{l-1}_j)"), ("s", "a^{l+1}_j(1 - a^{l+1}_j)")]:
        parts = dict(body, **{key: wrong})
        out.append((deep, "delta^l_j", f"Σ_k {parts['w']} {parts['d']} {parts['s']}", "wrong", "nielsen-layer"))
        out.append((deep, "delta^l_j", f"Σ_k {body['w']} {body['d']} {body['s']}", "right", "nielsen-layer"))
    for wrt, right, wrongs in [("w^l_jk", "a^{l-1}_k δ^l_j", ["a^{l}_k δ^l_j", "a^{l-1}_k δ^{l+1}_j",
                                                              "a^{l-1}_k δ^{l-1}_j", "a^{l+1}_k δ^l_j"]),
                               ("b^l_j", "δ^l_j", ["δ^{l+1}_j", "δ^{l-1}_j"])]:
        out.append((deep, wrt, right, "right", "nielsen-layer"))
        out += [(deep, wrt, w, "wrong", "nielsen-layer") for w in wrongs]
    return out


def batch_and_layer_rows():
    """A batch average where the loss sums its samples (N = 2, the loss with ½); index sums in a
    layer problem's elements (∂L/∂W_ij = Σ_n X_ni dY_nj, ∂L/∂b_j = Σ_n dY_nj); the operator form of ∂;
    negative powers of functions (sech² = cosh⁻²); a number minus a matrix."""
    out = []
    for text in ["Σ_n a^{L-1}_nk δ^L_nj", r"\sum_n a^{L-1}_{nk} \delta^L_{nj}"]:
        out.append(("mlp_relu_batch", "w^L_jk", text, "right", "batch-mean"))
        for wrong in [f"1/2 {text}", f"({text})/2", rf"\frac{{1}}{{2}} {text}", f"0.5 {text}"]:
            out.append(("mlp_relu_batch", "w^L_jk", wrong, "wrong", "batch-mean"))
    for wrong in ["1/2 Σ_n δ^L_nj", "Σ_n δ^L_nj / 2", r"\frac{1}{2}\sum_n \delta^L_{nj}"]:
        out.append(("mlp_relu_batch", "b^L_j", wrong, "wrong", "batch-mean"))
    for r, c in product((1, 2), (1, 2)):
        for text in [f"Σ_n x_n{r} dY_n{c}", f"Σ_n X_{{n{r}}} dY_{{n{c}}}",
                     f"\\sum_{{n=1}}^{{2}} x_{{n,{r}}} dY_{{n,{c}}}",
                     f"Σ_m dy_m{c} x_m{r}", f"x_1{r} dY_1{c} + x_2{r} dY_2{c}"]:
            out.append(("affine_layer", f"W[{r},{c}]", text.replace("\\\\", "\\"), "right", "layer-sum"))
        out.append(("affine_layer", f"W[{r},{c}]", f"Σ_n x_n{r} dY_n{c} / 2", "wrong", "layer-sum"))
        out.append(("affine_layer", f"W[{r},{c}]", f"-Σ_n x_n{r} dY_n{c}", "wrong", "layer-sum"))
        out.append(("affine_layer", f"W[{r},{c}]", f"2 Σ_n x_n{r} dY_n{c}", "wrong", "layer-sum"))
    for c in (1, 2):
        for text in [f"Σ_n dY_n{c}", f"\\sum_{{n=1}}^{{2}} dY_{{n,{c}}}", f"Σ_k dy_k{c}"]:
            out.append(("affine_layer", f"B[{c}]", text.replace("\\\\", "\\"), "right", "layer-sum"))
        out.append(("affine_layer", f"B[{c}]", f"-Σ_n dY_n{c}", "wrong", "layer-sum"))
    for text in [r"\frac{\partial}{\partial x}(x+y) z", r"z \frac{\partial}{\partial x}\left(x + y\right)",
                 "z ∂/∂x (x+y)", r"\frac{d}{dx}(x + y) \cdot z", "∂/∂x (x^2) z/(2x)"]:
        out.append(("circuit", "x", text, "right", "operator-partial"))
        out.append(("circuit", "x", f"-{text}", "wrong", "operator-partial"))
        out.append(("circuit", "x", f"2 {text}", "wrong", "operator-partial"))
    for text in [r"\frac{\partial}{\partial q}(qz)", "∂/∂q (q z)",
                 r"\frac{\partial}{\partial q}\left(q \cdot z\right)"]:
        out.append(("circuit", "q", text, "right", "operator-partial"))
    for text in ["cosh^{-2}(net_j)", "cosh^(-2)(net_j)", "cosh⁻²(net_j)", "cosh^(−2)(net_j)", r"\cosh^{-2}(net_j)",
                 "1/cosh^2(net_j)"]:
        out.append(("mlp_tanh_softmax", "delta_j", f"{text} Σ_k δ_k w_kj", "right", "function-power"))
        out.append(("mlp_tanh_softmax", "delta_j", f"2 {text} Σ_k δ_k w_kj", "wrong", "function-power"))
    for text in ["1 - (1 - Y) - T", "(1 - T) - (1 - Y)", "Y - 1 + (1 - T)", "(Y + 1) - (T + 1)"]:
        out.append(("softmax_with_loss", "A", text, "right", "matrix-number"))
        out.append(("softmax_with_loss", "A", f"2({text})", "wrong", "matrix-number"))
    return out


WIDE = """title = "12-11-3 sigmoid network"
[network]
layers = [12, 11, 3]
activations = "sigmoid"
loss = "mse"
notation = "nielsen"
"""


def wide_rows():
    """Units past 9 (issue 26): ∂C/∂w^2_jk = a^1_k δ^2_j (Nielsen, W1 is w^2) and ∂E/∂w_ji = x_i δ_j
    (Mitchell) with two-digit subscripts braced, bare or with commas; a wrong row swaps j and k or
    takes the wrong layer; w^2_111 (1,11 or 11,1 on this network) must be refused, not guessed."""
    out = []
    mitchell = WIDE.replace("nielsen", "mitchell")
    for j, k in [(10, 12), (11, 3), (2, 10), (11, 11), (1, 12)]:
        for a, d in [(f"a^1_{{{k}}}", f"δ^2_{{{j}}}"), (f"a^1_{k}", f"δ^2_{j}"),
                     (f"a^{{1}}_{{{k}}}", f"\\delta^{{2}}_{{{j}}}")]:
            out.append((WIDE, f"W1[{j},{k}]", f"{a} {d}", "right", "two-digit"))
        out.append((WIDE, f"W1[{j},{k}]", f"a^1_{k} δ^2_{j} a^1_{k}", "wrong", "two-digit"))
        out.append((WIDE, f"W1[{j},{k}]", f"-a^1_{k} δ^2_{j}", "wrong", "two-digit"))
        if j != k and j <= 12 and k <= 11:
            out.append((WIDE, f"W1[{j},{k}]", f"a^1_{j} δ^2_{k}", "wrong", "two-digit"))
        for text in [f"x_{k} δ_{j}", f"x_{{{k}}} delta_{{{j}}}", f"δ_{j} x_{k}"]:
            out.append((mitchell, f"W1[{j},{k}]", text, "right", "two-digit"))
        out.append((mitchell, f"W1[{j},{k}]", f"2 x_{k} δ_{j}", "wrong", "two-digit"))
    for text in ["a^1_1 w^2_111", "w^2_111"]:
        out.append((WIDE, "W1[11,1]", text, "malformed", "two-digit"))
    for r, c in product((1, 2), (1, 2)):  # Σ with braced bounds, subscripts unbraced (not x_n · 1)
        for text in [f"Σ_{{n=1}}^{{2}} x_n{r} dY_n{c}", f"\\sum_{{n=1}}^{{2}} x_n{r} dY_n{c}",
                     f"Σ_{{n=1}}^2 X_n{r} dY_n{c}", f"Σ_{{n}} x_n{r} dY_n{c}"]:
            out.append(("affine_layer", f"W[{r},{c}]", text.replace("\\\\", "\\"), "right", "two-digit-sum"))
        out.append(("affine_layer", f"W[{r},{c}]", f"Σ_{{n=1}}^{{2}} x_n{3 - r} dY_n{c}", "wrong", "two-digit-sum"))
        out.append(("affine_layer", f"W[{r},{c}]", f"Σ_{{n=1}}^{{1}} x_n{r} dY_n{c}", "wrong", "two-digit-sum"))
    return out


def rows():
    return network_rows() + scalar_rows() + matrix_rows() + head_rows() + batch_and_layer_rows() + wide_rows()
