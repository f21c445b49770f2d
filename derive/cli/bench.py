"""`make bench` (python -m derive.cli.bench): the one reverse mode on real network sizes, beside naive sympy.diff.

For each network: build the per-unit graph, derive every gradient, prove them all numerically
(time for that, then for the index and matrix forms too); the gradient DAG's size after
cse(order='none') against the forward DAG's; and naive `sympy.diff` of the one nested loss
expression per weight, in a subprocess capped at NAIVE_CAP seconds. Peak memory from getrusage.
"""
from __future__ import annotations

import multiprocessing as mp
import resource
import sys
import time

import sympy as sp

CASES = (
    # (sizes, budget in seconds for derive + check, naive diff comparison)
    ((32, 64, 10), 5.0),
    ((8, 16, 16, 16, 4), 3.0),
    ((8, 16, 8), None),
)
NAIVE_CAP = 60.0
RATIO_LIMIT = 2.5


def problem_text(sizes) -> str:
    return (f'title = "{"-".join(map(str, sizes))} sigmoid network"\n[network]\n'
            f"layers = {list(sizes)}\nactivations = \"sigmoid\"\nloss = \"mse\"\n"
            f"notation = \"nielsen\"\nseed = 7\n")


def nested_loss(problem):
    """The whole loss as ONE expression of the parameters (what naive differentiation sees)."""
    from ..networks.solve import build
    b = build(problem)
    env = {}
    for node in b.graph.nodes:
        if node.is_input:
            v = b.inputs[node.name]
            env[node.symbol] = node.symbol if node.name in b.wanted else sp.Rational(v.numerator, v.denominator)
        else:
            env[node.symbol] = node.expr.xreplace(env)
    return env[sp.Symbol(b.graph.output, real=True)], [sp.Symbol(w, real=True) for w in b.wanted]


def _naive_worker(sizes, queue):
    from ..networks.solve import build
    from ..problems import loads
    p = loads(problem_text(sizes), "bench")
    queue.put((0, len(build(p).wanted), 0.0))  # the total, before the nested loss is built
    loss, params = nested_loss(p)
    start = time.perf_counter()
    for done, w in enumerate(params, 1):
        sp.diff(loss, w)
        queue.put((done, len(params), time.perf_counter() - start))


def naive(sizes, cap=NAIVE_CAP):
    """(seconds, gradients done, total): naive sympy.diff of the nested loss, capped."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_naive_worker, args=(sizes, queue), daemon=True)
    start = time.perf_counter()
    proc.start()
    last = (0, None, 0.0)
    while time.perf_counter() - start < cap and proc.is_alive():
        try:
            last = queue.get(timeout=0.5)
        except Exception:
            continue
    finished = not proc.is_alive()
    if proc.is_alive():
        proc.terminate()
        proc.join()
    while not queue.empty():
        last = queue.get()
    elapsed = time.perf_counter() - start
    done, total, _ = last
    return elapsed, done, total, finished and total is not None and done == total


def run_case(sizes, budget):
    from ..engine import check, numeric
    from ..engine.reverse import reverse
    from ..networks.local import local_derivative
    from ..networks.solve import build, dag_sizes
    from ..pipeline import solve
    from ..problems import loads
    t0 = time.perf_counter()
    p = loads(problem_text(sizes), "bench")
    b = build(p)
    values = numeric.forward_values(b.graph, b.inputs, check.SMALL_GRAPH)
    d = reverse(b.graph, values, lambda n, q: local_derivative(b, n, q), b.wanted)
    t_derive = time.perf_counter() - t0
    t1 = time.perf_counter()
    report = check.prove(d, b.inputs, b.wanted)
    t_check = time.perf_counter() - t1
    core = time.perf_counter() - t0
    t2 = time.perf_counter()
    sol = solve(loads(problem_text(sizes), "bench"))  # the full flow: chains, index and BP forms
    t_full = time.perf_counter() - t2
    sizes_ = dag_sizes(d)
    ratio = sizes_["gradient"] / sizes_["forward"]
    rules_ok = all(r.checked for r in sol.extra.rules) and all(v.checked for v in sol.extra.vector_rules)
    return {
        "sizes": sizes, "params": len(b.wanted), "nodes": len(b.graph.nodes), "derive": t_derive,
        "check": t_check, "core": core, "full": t_full, "budget": budget, "ok": report.ok and sol.report.ok,
        "rules_ok": rules_ok, "worst": max(c.rel_error for c in report.checks),
        "forward_dag": sizes_["forward"], "gradient_dag": sizes_["gradient"], "ratio": ratio,
    }


def peak_mib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cap = float(argv[0]) if argv else NAIVE_CAP
    failures = []
    print("derive bench: structured reverse mode (sigmoid units, loss ½Σ(y − a)², seeded values)\n")
    for sizes, budget in CASES:
        r = run_case(sizes, budget)
        name = "-".join(map(str, sizes))
        within = budget is None or r["core"] <= budget
        print(f"{name:>16s}: {r['params']} parameters, {r['nodes']} graph nodes")
        print(f"{'':18s}derive {r['derive']:.2f} s + numeric check {r['check']:.2f} s = {r['core']:.2f} s"
              + (f"  (budget {budget:.1f} s: {'ok' if within else 'OVER'})" if budget else ""))
        print(f"{'':18s}full solve with chains, index form and BP1–BP4: {r['full']:.2f} s")
        print(f"{'':18s}checks {'all ok' if r['ok'] else 'FAILED'} (worst rel. error {r['worst']:.1e}); "
              f"index/matrix forms {'checked' if r['rules_ok'] else 'MISMATCH'}")
        print(f"{'':18s}DAG after cse(order='none'): forward {r['forward_dag']} ops, gradient "
              f"{r['gradient_dag']} ops, ratio {r['ratio']:.2f} (limit {RATIO_LIMIT})")
        if not within:
            failures.append(f"{name} over budget")
        if not (r["ok"] and r["rules_ok"]):
            failures.append(f"{name} checks")
        if r["ratio"] > RATIO_LIMIT:
            failures.append(f"{name} DAG ratio")
        if budget is None or sizes == (8, 16, 16, 16, 4):
            secs, done, total, finished = naive(sizes, cap)
            if finished:
                print(f"{'':18s}naive sympy.diff of the nested loss: {secs:.1f} s for all {total} "
                      f"gradients; ours is {secs / r['core']:.0f}× faster")
            else:
                print(f"{'':18s}naive sympy.diff of the nested loss (building it included): {done} of {total} "
                      f"gradients in {secs:.0f} s (capped); ours does all {r['params']} in {r['core']:.2f} s, "
                      f"> {secs / r['core']:.0f}× faster")
        print()
    mib = peak_mib()
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory: ours {mib:.0f} MiB (limit 1024 MiB); naive diff subprocess {child:.0f} MiB")
    if mib > 1024:
        failures.append("memory")
    print("ALL WITHIN LIMITS" if not failures else "OVER LIMITS: " + ", ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
