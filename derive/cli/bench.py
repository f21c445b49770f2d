"""`make bench` (python -m derive.cli.bench): speed and memory of derive on real network sizes.

Small networks (32-64-10 sigmoid/MSE and softmax/CE, 8-16-16-16-4, 8-16-8) are solved in this
process: seconds to derive and prove, for the full solve (index rules and BP1–BP4 with every
instance checked), and for making every per-parameter chain (they are made on demand), beside
naive `sympy.diff` of the one nested loss expression per weight (a subprocess capped at NAIVE_CAP
seconds) and the gradient DAG's size against the forward DAG's. MNIST-sized networks (784-64-10,
784-128-64-10) run as `derive check FILE --json` in a fresh process each: wall time and peak
memory of the whole process; so does `derive verify` on 784-64-10 (right, wrong, unknown --wrt).
A series of growing networks gives the log-log slope of CPU time
against parameters. The machine's load average is printed: other work slows wall times.
"""
from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

import sympy as sp

from ..engine.ops import DEFAULT_ACTIVATION

SIGMOID = (DEFAULT_ACTIVATION, "mse")  # sigmoid units
SOFTMAX = ("softmax", "cross_entropy")
SMALL = (  # (sizes, output activation and loss, budget for derive + check in seconds, naive comparison)
    ((32, 64, 10), SIGMOID, 2.5, False),
    ((32, 64, 10), SOFTMAX, 2.5, False),
    ((8, 16, 16, 16, 4), SIGMOID, 0.6, True),
    ((8, 16, 8), SIGMOID, None, True),
    ((4, 8, 3), SIGMOID, None, True),
)
BIG = (  # whole `derive check FILE --json` process: wall-time budget (s), memory budget (GiB)
    ((784, 64, 10), SOFTMAX, 30.0, 2.0),
    ((784, 128, 64, 10), SOFTMAX, 60.0, 2.0),
)
VERIFY = (  # `derive verify FILE --wrt W --answer A` on 784-64-10, whole process: (wrt, answer, exit code)
    ("w^l_jk", "delta^l_j a^{l-1}_k", 0),  # right
    ("w^l_jk", "delta^l_j a^{l}_k", 1),  # wrong: the layer of a
    ("delta^l_j", "sum_k w^{l+1}_{kj} delta^{l+1}_k a^l_j (1 - a^l_j)", 0),
    ("delta^l_j", "sum_{k=1}^{9} w^{l+1}_{kj} delta^{l+1}_k a^l_j (1 - a^l_j)", 1),  # wrong: one output short
    ("W1[0,0]", "x", 2),  # an unknown --wrt: one short line
)
VERIFY_BUDGET = (1.0, 500)  # seconds wall and MiB for each whole process
LAYER_STACKS = (  # `derive check FILE --json` of a [layers] stack: (name, wall-time budget s, memory budget GiB)
    ("toy conv net: N = 2, 1×8×8, four 3×3 filters, relu, 2×2 max pool, affine to 10, softmax-with-loss", 10.0, 1.0),
    ("784-50-10 two-layer net: affine, relu, affine, softmax-with-loss, N = 4, mean loss", 10.0, 1.0),
)
SERIES = ((32, 64, 10), (784, 16, 10), (784, 32, 10), (784, 64, 10), (784, 128, 64, 10))  # softmax/CE
SLOPE_LIMIT = 1.1
NAIVE_CAP = 60.0
RATIO_LIMIT = 2.5


def problem_text(sizes, out=SIGMOID) -> str:
    act, loss = out
    acts = [DEFAULT_ACTIVATION] * (len(sizes) - 2) + [act]
    return (f'title = "{"-".join(map(str, sizes))} {act}/{loss} network"\n[network]\n'
            f"layers = {list(sizes)}\nactivations = {json.dumps(acts)}\nloss = \"{loss}\"\n"
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
    """(seconds, gradients done, total, finished): naive sympy.diff of the nested loss, capped."""
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


def own_peak() -> float:
    """This process's own peak resident size in MiB (VmHWM; ru_maxrss also counts the process it was
    forked from, which Linux keeps across exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024
    except (OSError, AttributeError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fresh_case(sizes, out=SIGMOID, dag=True) -> dict:
    """`run_case` in a fresh interpreter (its own imports, caches and peak memory)."""
    proc = subprocess.run([sys.executable, "-m", "derive.cli.bench", "--case", json.dumps([sizes, out, dag])],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_case(sizes, out=SIGMOID, dag=True):
    """One network solved in this process: stage seconds (wall and CPU), checks, DAG sizes, and
    this process's peak memory."""
    from ..networks.solve import dag_sizes
    from ..pipeline import solve
    from ..problems import loads
    from .text import solution_ok
    p = loads(problem_text(sizes, out), "bench")
    w0, c0 = time.perf_counter(), time.process_time()
    sol = solve(p)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    t = sol.extra.timings
    w1 = time.perf_counter()
    made = sum(1 for c in sol.extra.chains if c.chain.factors)
    chains = time.perf_counter() - w1
    r = {"sizes": list(sizes), "params": len(sol.extra.chains), "nodes": len(sol.derivation.graph.nodes),
         "core": t["build"] + t["backward"] + t["check"], "derive": t["build"] + t["backward"], "check": t["check"],
         "full": wall, "cpu": cpu, "chains": chains, "made": made, "ok": solution_ok(sol),
         "worst": max(c.rel_error for c in sol.report.checks), "methods": sol.report.proof["methods"]}
    r["peak"] = own_peak()
    if dag:
        sizes_ = dag_sizes(sol.derivation)
        r.update(forward_dag=sizes_["forward"], gradient_dag=sizes_["gradient"],
                 ratio=sizes_["gradient"] / sizes_["forward"])
    return r


# A fresh `derive` process that writes its own peak resident size (VmHWM, KiB) to $DERIVE_BENCH_PEAK at
# exit: the ru_maxrss that wait4 reports also counts this (bigger) bench process it was forked from.
_LAUNCH = ("import atexit, os, re, runpy, sys\n"
           "def _peak():\n"
           "    with open('/proc/self/status') as f, open(os.environ['DERIVE_BENCH_PEAK'], 'w') as out:\n"
           "        out.write(re.search(r'VmHWM:\\s+(\\d+)', f.read()).group(1))\n"
           "atexit.register(_peak)\n"
           "sys.argv = ['derive'] + sys.argv[1:]\n"
           "runpy.run_module('derive', run_name='__main__')\n")


def fresh(args, stdout, stderr):
    """`derive ARGS` in a fresh process: (wall s, peak MiB, CPU s, exit code)."""
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = os.path.join(tmp, "peak")
        env = {**os.environ, "DERIVE_BENCH_PEAK": peak_file}
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", _LAUNCH, *args], stdout=stdout, stderr=stderr, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        try:
            with open(peak_file, encoding="ascii") as f:
                peak = int(f.read()) / 1024
        except (OSError, ValueError):  # no /proc: the inherited figure is all there is
            peak = usage.ru_maxrss / 1024
    return wall, peak, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)


def run_cli(sizes, out=SOFTMAX):
    """`derive check FILE --json` in a fresh process: (wall seconds, peak MiB, parsed JSON)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "net.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(problem_text(sizes, out))
        with open(os.path.join(tmp, "out.json"), "w+", encoding="utf-8") as sink:
            wall, peak, cpu, code = fresh(["check", path, "--json"], sink, subprocess.DEVNULL)
            sink.seek(0)
            text = sink.read()
    out = json.loads(text) if text.strip() else {}
    return wall, peak, cpu, code, out


def stack_text(which: int) -> str:
    """The [layers] problem of LAYER_STACKS[which], seeded values."""
    import numpy as np
    rng = np.random.default_rng(22)

    def arr(*shape, scale=1.0):
        return json.dumps(np.round(rng.normal(size=shape) * scale, 4).tolist())
    if which == 0:
        head, n = 'stack = ["conv", "relu", "max_pool", "affine", "softmax_with_loss"]', 2
        values = (f"X = {arr(n, 1, 8, 8)}\nW1 = {arr(4, 1, 3, 3, scale=0.3)}\nb1 = {arr(4, scale=0.1)}\n"
                  f"W2 = {arr(36, 10, scale=0.2)}\nb2 = {arr(10, scale=0.1)}\n")
    else:
        head, n = 'stack = ["affine", "relu", "affine", "softmax_with_loss"]\nreduction = "mean"', 4
        values = (f"X = {arr(n, 784)}\nW1 = {arr(784, 50, scale=0.05)}\nb1 = {arr(50, scale=0.1)}\n"
                  f"W2 = {arr(50, 10, scale=0.1)}\nb2 = {arr(10, scale=0.1)}\n")
    targets = json.dumps(np.eye(10)[rng.integers(0, 10, size=n)].astype(int).tolist())
    return f'title = "bench stack {which}"\n[layers]\n{head}\n[values]\n{values}T = {targets}\n'


def run_stack_cli(which: int):
    """`derive check FILE --json` of a layer stack in a fresh process: (wall s, peak MiB, CPU s, exit, JSON)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "stack.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(stack_text(which))
        with open(os.path.join(tmp, "out.json"), "w+", encoding="utf-8") as sink:
            wall, peak, cpu, code = fresh(["check", path, "--json"], sink, subprocess.DEVNULL)
            sink.seek(0)
            text = sink.read()
    out = json.loads(text) if text.strip() else {}
    return wall, peak, cpu, code, out


def run_verify(sizes=(784, 64, 10), out=SOFTMAX):
    """Each VERIFY answer as `derive verify` in a fresh process: (wrt, answer, wall s, CPU s, peak MiB,
    exit code, expected code, characters of output)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "net.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(problem_text(sizes, out))
        for wrt, answer, expected in VERIFY:
            with open(os.path.join(tmp, "out.txt"), "w+", encoding="utf-8") as sink:
                wall, peak, cpu, code = fresh(["verify", path, "--wrt", wrt, "--answer", answer], sink, sink)
                sink.seek(0)
                chars = len(sink.read())
            rows.append((wrt, answer, wall, cpu, peak, code, expected, chars))
    return rows


def series():
    """(params, CPU seconds of the full solve) for each network of SERIES, each in a fresh process."""
    points = []
    for sizes in SERIES:
        r = fresh_case(sizes, SOFTMAX, dag=False)
        points.append((tuple(sizes), r["params"], r["cpu"]))
    return points


def slope(points) -> float:
    xs = [math.log(p) for _, p, _ in points]
    ys = [math.log(c) for _, _, c in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def _name(sizes, out) -> str:
    return f"{'-'.join(map(str, sizes))} {out[0]}/{'MSE' if out[1] == 'mse' else 'CE'}"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--case"]:  # one case in this fresh process, as JSON on stdout
        sizes, out, dag = json.loads(argv[1])
        print(json.dumps(run_case(tuple(sizes), tuple(out), dag)))
        return 0
    cap = float(argv[0]) if argv else NAIVE_CAP
    failures = []
    print(f"derive bench (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; seeded values; "
          "hidden units sigmoid; each network in a fresh process)\n")
    for sizes, out, budget, compare in SMALL:
        r = fresh_case(sizes, out)
        name = _name(sizes, out)
        within = budget is None or r["core"] <= budget
        print(f"{name:>24s}: {r['params']:,} parameters, {r['nodes']:,} graph nodes, peak memory {r['peak']:.0f} MiB")
        print(f"{'':26s}derive {r['derive']:.2f} s + prove {r['check']:.2f} s = {r['core']:.2f} s"
              + (f"  (budget {budget:.1f} s: {'ok' if within else 'OVER'})" if budget else ""))
        print(f"{'':26s}full solve with index rules and BP1–BP4, every instance checked: {r['full']:.2f} s "
              f"(CPU {r['cpu']:.2f} s); all {r['made']:,} per-parameter chains made in {r['chains']:.2f} s more")
        how = ", ".join(f"{m['count']:,} by {m['method']} ({m['precision']})" for m in r["methods"])
        print(f"{'':26s}{'all proven' if r['ok'] else 'FAILED'} ({how}; worst rel. error {r['worst']:.1e})")
        print(f"{'':26s}DAG after cse(order='none'): forward {r['forward_dag']} ops, gradient "
              f"{r['gradient_dag']} ops, ratio {r['ratio']:.2f} (limit {RATIO_LIMIT})")
        if not within:
            failures.append(f"{name} over budget")
        if not r["ok"]:
            failures.append(f"{name} checks")
        if r["ratio"] > RATIO_LIMIT:
            failures.append(f"{name} DAG ratio")
        if compare:
            secs, done, total, finished = naive(sizes, cap)
            if finished:
                print(f"{'':26s}naive sympy.diff of the nested loss: {secs:.1f} s for all {total} gradients; "
                      f"derive + prove is {secs / r['core']:.0f}× faster")
            else:
                print(f"{'':26s}naive sympy.diff of the nested loss (building it included): {done} of {total} "
                      f"gradients in {secs:.0f} s (capped); derive + prove does all {r['params']} in "
                      f"{r['core']:.2f} s, > {secs / r['core']:.0f}× faster")
        print()
    for sizes, out, budget, gib in BIG:
        wall, mib, cpu, code, result = run_cli(sizes, out)
        name = _name(sizes, out)
        ok = code == 0 and result.get("ok") is True
        within = wall <= budget and mib <= gib * 1024
        methods = result.get("proof", {}).get("methods", [])
        how = ", ".join(f"{m['count']:,} by {m['method']} ({m['precision']})" for m in methods)
        print(f"{name:>24s}: `derive check FILE --json`, whole process: {wall:.1f} s wall (CPU {cpu:.1f} s), "
              f"peak {mib:.0f} MiB  (budget {budget:.0f} s, {gib:.0f} GiB: {'ok' if within else 'OVER'})")
        print(f"{'':26s}{len(result.get('checks', [])):,} gradients {'all proven' if ok else 'FAILED'} ({how}); "
              f"{sum(r.get('instances', 0) for r in result.get('rules', [])):,} index-rule instances and "
              f"{sum(1 for r in result.get('rules', []) if 'instances' not in r)} matrix rules checked\n")
        if not within:
            failures.append(f"{name} over budget")
        if not ok:
            failures.append(f"{name} checks")
    for which, (name, budget, gib) in enumerate(LAYER_STACKS):
        wall, mib, cpu, code, result = run_stack_cli(which)
        ok = code == 0 and result.get("ok") is True
        within = wall <= budget and mib <= gib * 1024
        print(f"{'layer stack':>24s}: {name}: `derive check FILE --json`, whole process {wall:.1f} s wall "
              f"(CPU {cpu:.1f} s), peak {mib:.0f} MiB  (budget {budget:.0f} s, {gib:.0f} GiB: "
              f"{'ok' if within else 'OVER'})")
        print(f"{'':26s}{len(result.get('checks', [])):,} gradient elements {'all proven' if ok else 'FAILED'}; "
              f"{len(result.get('rules', []))} layer rules derived; stages {result.get('timings', {})}\n")
        if not within:
            failures.append(f"layer stack {which + 1} over budget")
        if not ok:
            failures.append(f"layer stack {which + 1} checks")
    seconds, mib = VERIFY_BUDGET
    print(f"{_name((784, 64, 10), SOFTMAX):>24s}: `derive verify FILE --wrt W --answer A`, whole process each "
          f"(budget {seconds:.0f} s, {mib} MiB):")
    for wrt, answer, wall, cpu, peak, code, expected, chars in run_verify():
        right = code == expected
        within = wall <= seconds and peak <= mib
        print(f"{'':26s}{wrt} = {answer}: exit {code} ({'as expected' if right else f'EXPECTED {expected}'}), "
              f"{wall:.2f} s (CPU {cpu:.2f} s), peak {peak:.0f} MiB, {chars:,} characters "
              f"({'ok' if within else 'OVER'})")
        if not right:
            failures.append(f"verify {wrt} = {answer}")
        if not within:
            failures.append(f"verify {wrt} over budget")
    print()
    points = series()
    s = slope(points)
    print("scaling (softmax/CE, full solve in a fresh process, CPU seconds):")
    for sizes, params, cpu in points:
        print(f"{'':26s}{'-'.join(map(str, sizes)):>16s}: {params:>7,} parameters {cpu:6.2f} s "
              f"({1e6 * cpu / params:.0f} µs per parameter)")
    print(f"{'':26s}log-log slope of time against parameters: {s:.2f} (limit {SLOPE_LIMIT})\n")
    if s > SLOPE_LIMIT:
        failures.append("slope")
    from ..serve import load  # the practice page: a class of 50 students on loopback (derive/serve/load.py)
    print(f"practice page (derive serve on 127.0.0.1, load average {os.getloadavg()[0]:.1f}):")
    r = load.run()
    print(f"{'':26s}{load.describe(r)} (goal: 0 errors, 0 lost, p95 ≤ {load.P95_GOAL} ms)\n")
    failures += load.failures(r)
    print(f"load average now {os.getloadavg()[0]:.1f}")
    print("ALL WITHIN LIMITS" if not failures else "OVER LIMITS: " + ", ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
