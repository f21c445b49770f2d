"""Layer drills on worksheets and in the Moodle quiz (issue 22): every key number against an
independent computation (autograd on a forward pass written here), the draws not degenerate,
every level renders, the quiz's blanks carry the same numbers."""
from __future__ import annotations

import re

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

from derive.sheets.exercises import LEVELS, build_sheet
from derive.sheets.layer_drills import DRILL_NAMES, LayerDrill, draw_drill, drills
from derive.sheets.moodle import quiz_xml
from derive.sheets.sheet_view import render_sheet

SEEDS = [(s, v) for s in (1, 7, 23) for v in (1, 2, 3)]


def _forward(layer, arrays, opts):
    """Y of the layer, written out independently of derive (autograd arrays)."""
    X = arrays["X"]
    if layer == "relu":
        return anp.maximum(X, 0.0)
    if layer == "dropout":
        return X * arrays["mask"] / opts["p"]
    if layer == "batchnorm":
        mu = anp.mean(X, axis=0)
        var = anp.mean((X - mu) ** 2, axis=0)
        return arrays["gamma"] * (X - mu) / anp.sqrt(var + opts["eps"]) + arrays["beta"]
    if layer == "conv":
        W = arrays["W"][0, 0]
        x = X[0, 0]
        rows = [[anp.sum(x[i:i + 2, j:j + 2] * W) for j in range(3)] for i in range(3)]
        return anp.array(rows) + arrays["b"][0]
    if layer == "max_pool":
        x = X[0, 0]
        return anp.array([[anp.max(x[2 * i:2 * i + 2, 2 * j:2 * j + 2]) for j in range(2)] for i in range(2)])
    raise AssertionError(layer)


def _reference(variant) -> dict:
    a = variant.answer
    given = {r: np.asarray(v, dtype=float) for r, v in a.given.items()}
    opts = {k: float(v) for k, v in a.options.items()}
    dY = given["dY"].reshape(-1)
    out = {}
    for role in a.gradients:
        def loss(v, role=role):
            arrays = dict(given, **{role: v})
            return anp.sum(anp.reshape(_forward(a.layer, arrays, opts), (-1,)) * dY)
        out[role] = grad(loss)(given[role])
    return out


@pytest.mark.parametrize("seed,version", SEEDS)
@pytest.mark.parametrize("layer", DRILL_NAMES)
def test_key_numbers_match_autograd(layer, seed, version):
    v = draw_drill(LayerDrill(layer), seed, version)
    ref = _reference(v)
    assert set(ref) == set(v.answer.gradients)
    for role, want in ref.items():
        np.testing.assert_allclose(v.answer.gradients[role], want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed,version", SEEDS)
def test_draws_are_not_degenerate(seed, version):
    for problem in drills():
        a = draw_drill(problem, seed, version).answer
        X = np.asarray(a.given["X"], dtype=float)
        if a.layer == "relu":
            assert (X > 0).any() and (X < 0).any() and (X != 0).all()
        if a.layer == "dropout":
            mask = np.asarray(a.given["mask"], dtype=float)
            assert 0 < mask.sum() < mask.size and 0 < a.options["p"] <= 1
        if a.layer == "max_pool":
            windows = X[0, 0].reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)
            assert all(len(set(w)) == 4 for w in windows.tolist())  # no tie anywhere
        if a.layer == "batchnorm":
            assert X.shape == (3, 2)
            assert (np.ptp(X, axis=0) > 0).all()
        if a.layer == "conv":
            assert X.shape == (1, 1, 4, 4) and np.asarray(a.given["W"]).shape == (1, 1, 2, 2)
        assert all(np.abs(g).max() > 0 for g in a.gradients.values())


def test_same_seed_same_numbers_and_versions_differ():
    a = draw_drill(LayerDrill("relu"), 5, 1).answer
    b = draw_drill(LayerDrill("relu"), 5, 1).answer
    c = draw_drill(LayerDrill("relu"), 5, 2).answer
    assert (a.given["X"] == b.given["X"]).all()
    assert not (a.given["X"] == c.given["X"]).all()


@pytest.mark.parametrize("seed", (1, 4, 9))
def test_conv_element_is_its_sum(seed):
    v = draw_drill(LayerDrill("conv"), seed, 1)
    _symbol, expr, _values, total = v.answer.worked
    X = np.asarray(v.answer.given["X"], dtype=float)[0, 0]
    dY = np.asarray(v.answer.given["dY"], dtype=float)[0, 0]
    assert total == pytest.approx(float((X[:3, :3] * dY).sum()))
    assert len(expr.as_ordered_terms()) == 9
    assert total == pytest.approx(_reference(v)["W"][0, 0, 0, 0])


@pytest.mark.parametrize("level", LEVELS)
def test_every_level_renders(level):
    sheet = build_sheet(drills(), 3, 1, level)
    worksheet, key = render_sheet(sheet)
    for tex in (worksheet, key):
        assert tex.count(r"\subsection*{Exercise") == len(DRILL_NAMES)
        assert "Batch Normalization" in tex
    assert r"\smallbox" in worksheet if level == "fill-in" else True
    if level in ("exam", "outline", "local-gradients"):  # the results are not on the worksheet
        dx = sheet.exercises[0].answer.gradients["X"]
        nonzero = [x for x in dx.ravel() if abs(x) > 0.05]
        from derive.render.printer import number
        assert not any(f"& {number(x)} &" in worksheet.split("Exercise 1")[1].split("Exercise 2")[0]
                       for x in nonzero if x not in np.asarray(sheet.exercises[0].answer.given["dY"], dtype=float))


def test_moodle_blanks_carry_the_reference_numbers():
    sheet = build_sheet(drills(), 2, 1, "exam")
    xml = quiz_xml([sheet], figure=None)
    blanks = [float(m) for m in re.findall(r"\{1:NUMERICAL:=([-0-9.e]+):", xml)]
    want = []
    for e in sheet.exercises:
        ref = _reference(e.variant)
        for role in e.answer.gradients:
            want += [float(x) for x in np.ravel(ref[role])]
    assert len(blanks) == len(want)
    np.testing.assert_allclose(blanks, want, rtol=1e-9, atol=1e-12)
    assert xml.count('<question type="cloze">') == len(DRILL_NAMES)
