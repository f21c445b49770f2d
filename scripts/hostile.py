"""A table of bad, hostile and unlucky inputs, run through the real command line.

    python scripts/hostile.py [--only CLASS] [--timeout S] [-v]

Each case runs `derive ...` in a fresh process with a time limit and is judged by what a user
sees: a clear one-line error (exit 2) or a correct result (exit 0/1) is good; a traceback, an
exit code 3, a hang past the limit, JSON that does not parse, or a result that disagrees with the
value computed here is bad. Prints one line per bad case and the counts per class. Not part of
`make test` (it takes minutes); tests/cli/test_hostile.py holds the named tests of each class.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DERIVE = [sys.executable, "-m", "derive"]
CASES: list[dict] = []


def case(cls, name, args, files=None, expect=None, stdin=None, stdout_file=None, codes=(0, 1, 2)):
    """expect(stdout, stderr, code) -> None or a string saying what is wrong."""
    CASES.append({"cls": cls, "name": name, "args": args, "files": files or {}, "expect": expect,
                  "stdin": stdin, "stdout_file": stdout_file, "codes": codes})


def graph(steps: dict, values: dict, extra: str = "") -> str:
    lines = [extra] if extra else []
    lines.append("[graph]")
    lines += [f'{k} = {json.dumps(v, ensure_ascii=False)}' for k, v in steps.items()]
    lines.append("[values]")
    lines += [f"{k} = {v}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def json_value(key, want, rel=1e-9):
    def check(out, err, code):
        if code == 2:  # refused up front, with the limit named: fine
            return None
        try:
            data = json.loads(out)
        except ValueError:
            return "output is not JSON"
        got = data
        for k in key:
            got = got[k]
        if got is None or want is None:
            return None if got == want else f"{key} = {got}, expected {want}"
        if not math.isclose(got, want, rel_tol=rel, abs_tol=1e-300):
            return f"{key} = {got}, expected {want}"
        return None
    return check


def parses_json(out, err, code):
    if code in (0, 1):
        try:
            json.loads(out, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        except ValueError as e:
            return f"output is not strict JSON ({e})"
    return None


# ---------------------------------------------------------------- domain errors at the given point

for expr, vals in [("x / y", {"x": 1, "y": 0}), ("log(x)", {"x": 0}), ("log(x)", {"x": -1}),
                   ("x ^ 0.5", {"x": -4}), ("x ^ -1", {"x": 0}), ("log(exp(x))", {"x": -1000}),
                   ("1 / (x - y)", {"x": 2, "y": 2}), ("x ^ y", {"x": 0, "y": -2}),
                   ("log(x * y)", {"x": 2, "y": 0}), ("(x + y) / (x - y)", {"x": 1, "y": 1})]:
    text = graph({"f": expr}, vals)
    for cmd in (["check", "p.toml", "--json"], ["show", "p.toml"], ["report", "p.toml", "-o", "r.md"],
                ["verify", "p.toml", "--wrt", "x", "--answer", "1"]):
        case("domain", f"{expr} @ {vals} :: {cmd[0]}", cmd, {"p.toml": text}, parses_json)

# ---------------------------------------------------------------- overflow

for expr, vals, f in [("exp(x)", {"x": 1000}, None), ("exp(exp(x))", {"x": 10}, None),
                      ("x * y", {"x": "1e300", "y": "1e300"}, None), ("x ^ 300", {"x": 10}, 1e300),
                      ("exp(x)", {"x": 700}, math.exp(700)), ("x * y", {"x": "1e40", "y": "1e40"}, 1e80)]:
    text = graph({"f": expr}, vals)
    expect = json_value(("output",), f) if f is not None else parses_json
    case("overflow", f"{expr} @ {vals}", ["check", "p.toml", "--json"], {"p.toml": text}, expect)

# ---------------------------------------------------------------- size and depth

for n in (100, 500, 1000, 2000, 5000, 10000):
    steps = {"s0": "x * 1.001"}
    steps.update({f"s{i}": f"s{i - 1} * 1.001" for i in range(1, n)})
    text = graph(steps, {"x": 1})
    case("size", f"chain of {n} steps :: check", ["check", "p.toml", "--json"], {"p.toml": text},
         json_value(("gradients", "x"), 1.001 ** n, 1e-6))
    if n <= 2000:
        case("size", f"chain of {n} steps :: report md", ["report", "p.toml", "-o", "r.md"], {"p.toml": text})
for n in (300, 999):
    text = graph({"f": "+".join(["x"] * n)}, {"x": 2})
    case("size", f"flat sum of {n} terms :: check", ["check", "p.toml", "--json"], {"p.toml": text},
         json_value(("gradients", "x"), float(n)))
    case("size", f"flat sum of {n} terms :: worksheet", ["worksheet", "p.toml", "-o", "ws", "--tex-only"],
         {"p.toml": text})
for depth in (30, 32, 33, 100, 5000):
    text = "a = " + "[" * depth + "]" * depth + "\n"
    case("size", f"TOML nested {depth}", ["check", "p.toml"], {"p.toml": text}, codes=(2,))
for depth in (59, 60, 61, 300):
    text = graph({"f": "(" * depth + "x" + ")" * depth}, {"x": 1})
    case("size", f"parentheses {depth}", ["check", "p.toml", "--json"], {"p.toml": text})
for expr in ("9^9^9 * x", "2^2^2^2^2^2 * x", "1e999999999 * x", "9" * 5000 + " * x", "x^x^x^x^x^x^x^x",
             "exp(exp(exp(exp(exp(x)))))", "x^1000000000"):
    text = graph({"f": expr}, {"x": 2})
    case("size", f"{expr[:30]}", ["check", "p.toml", "--json"], {"p.toml": text}, parses_json)
for rows in (100, 1000, 5000):
    x = [[0.1, 0.2]] * rows
    t = [[0.0, 1.0]] * rows
    text = (f'[network]\nlayers = [2, 2, 2]\nactivations = "sigmoid"\nloss = "mse"\n[values]\nx = {x}\nt = {t}\n'
            "W1 = [[0.1, 0.2], [0.3, 0.4]]\nb1 = [0.1, 0.1]\nW2 = [[0.5, 0.6], [0.7, 0.8]]\nb2 = [0.2, 0.2]\n")
    case("size", f"batch of {rows} rows", ["check", "p.toml", "--json"], {"p.toml": text}, parses_json)
for depth in (10, 30, 60):
    text = f'[network]\nlayers = {[3] * (depth + 1)}\nactivations = "tanh"\nloss = "mse"\nnotation = "nielsen"\n'
    case("size", f"{depth}-layer network", ["check", "p.toml", "--json"], {"p.toml": text}, parses_json)
for n in (10, 30):
    X = [[0.1 * (i + j) for j in range(n)] for i in range(n)]
    text = (f'[layers]\nstack = ["affine"]\n[values]\nX = {X}\nW = {X}\nB = {[0.1] * n}\ndY = {X}\n')
    case("size", f"{n}x{n} affine layer", ["check", "p.toml", "--json"], {"p.toml": text}, parses_json)

# ---------------------------------------------------------------- output paths

os.makedirs("/tmp/derive-hostile-ro", exist_ok=True)
for out, label in [("afile/r.md", "parent is a file"), ("adir", "output is a directory"),
                   ("/dev/full", "a device"), ("/sys/r.md", "read-only tree"), ("/proc/r.md", "proc"),
                   ("a" * 300 + ".md", "name too long"), ("adir/", "trailing slash")]:
    files = {"afile": "x", "adir/.keep": ""}
    case("paths", f"report -o {label}", ["report", "circuit", "-o", out, "--format", "md"], files, codes=(2,))
    if "directory" not in label and "slash" not in label:  # worksheet -o names a directory
        case("paths", f"worksheet -o {label}", ["worksheet", "circuit", "-o", out, "--tex-only"], files,
             codes=(2,))
case("paths", "stdout is full", ["check", "circuit", "--json"], stdout_file="/dev/full", codes=(2,))
case("paths", "verify batch -o file", ["verify", "circuit", "--answers", "a.toml", "-o", "afile"],
     {"afile": "x", "a.toml": '[[answer]]\nstudent = "s"\nwrt = "x"\nanswer = "z"\n'}, codes=(2,))

# ---------------------------------------------------------------- unicode

for title in ["ς ά ϑ ϕ ϖ", "Łódź ŧ ő ą ğ", "간단한 회로: 덧셈과 곱셈 노드", "emoji 🎓 ∂f/∂x", "combining é",
              "RTL שלום", "\u00ad soft hyphen", "x\u200by"]:
    text = f'title = {json.dumps(title, ensure_ascii=False)}\n' + graph({"f": "x * y"}, {"x": 2, "y": 3})
    case("unicode", f"title {title!r} :: pdf", ["report", "p.toml", "-o", "r.pdf"], {"p.toml": text})
    case("unicode", f"title {title!r} :: md", ["report", "p.toml", "-o", "r.md"], {"p.toml": text})
for name in ["ς", "ϑ", "ά", "ŧ", "α_1", "θ"]:
    text = graph({"f": f"{name} * y"}, {name: 2, "y": 3})
    case("unicode", f"name {name} :: pdf", ["report", "p.toml", "-o", "r.pdf"], {"p.toml": text})
for ctrl in ["\\u001b[2J", "\\u0000", "\\u0007", "\\u202e"]:
    text = f'title = "a{ctrl}b"\n' + graph({"f": "x * y"}, {"x": 2, "y": 3})
    case("unicode", f"control {ctrl}", ["show", "p.toml"], {"p.toml": text}, codes=(2,))

# ---------------------------------------------------------------- batch feedback

for answer in ["z\n\nz", "<img src=x onerror=alert(1)>", "`z` ```", "$$ \\end{document} $$", "z" * 3000,
               "\\input{/etc/passwd}", "{{ 7*7 }} {% raw %}", "\\VAR{x} \\BLOCK{ for }", "__import__('os')",
               "z # comment", "\u001b[31mz"]:
    answers = f'[[answer]]\nstudent = "a"\nwrt = "x"\nanswer = {json.dumps(answer)}\n' \
              '[[answer]]\nstudent = "b"\nwrt = "x"\nanswer = "z"\n'

    def no_live_html(out, err, code, _a=answer):
        md = Path("fb/feedback.md")
        if not md.exists():
            return "feedback.md not written"
        text = md.read_text()
        if "<img" in text and "&lt;img" not in text and "```" not in text:
            return "raw HTML in feedback.md"
        if not Path("fb/feedback.pdf").exists():
            return "feedback.pdf not written"
        return None
    case("feedback", f"answer {answer[:30]!r}", ["verify", "circuit", "--answers", "a.toml", "-o", "fb"],
         {"a.toml": answers}, no_live_html, codes=(0, 1))

# ---------------------------------------------------------------- worksheets

for expr, vals in [("exp(2) * x", {"x": 1}), ("x * y + exp(1)", {"x": 1, "y": 2}),
                   ("sigmoid(100 * x)", {"x": 1}), ("relu(x - x)", {"x": 1})]:
    case("worksheet", expr, ["worksheet", "p.toml", "-o", "ws", "--tex-only"], {"p.toml": graph({"f": expr}, vals)})
steps = {"s0": "x * 1.1"}
steps.update({f"s{i}": f"s{i - 1} * 1.1" for i in range(1, 200)})
case("worksheet", "200-step chain", ["worksheet", "p.toml", "-o", "ws", "--tex-only"],
     {"p.toml": graph(steps, {"x": 1})})

# ---------------------------------------------------------------- injection

for payload in ["\\input{/etc/passwd}", "\\write18{touch /tmp/pwned}", "\\catcode`\\@=11", "{{ 7*7 }}",
                "{% for x in y %}", "\\VAR{ 7*7 }", "\\BLOCK{ set x = 1 }", "__import__('os').system('x')",
                "$\\input{/etc/passwd}$"]:
    text = (f'title = {json.dumps(payload)}\ndescription = {json.dumps(payload)}\n'
            + graph({"f": "x*y"}, {"x": 1, "y": 2}))

    def inert(out, err, code, _p=payload):
        if Path("/tmp/pwned").exists():
            return "shell escape ran"
        if "root:x:0" in out or (Path("r.md").exists() and "root:x:0" in Path("r.md").read_text()):
            return "file contents leaked"
        if "49" in out and "7*7" in _p:
            return "template evaluated"
        return None
    case("injection", payload, ["report", "p.toml", "-o", "r.md"], {"p.toml": text}, inert)
    case("injection", payload + " :: pdf", ["report", "p.toml", "-o", "r.pdf"], {"p.toml": text}, inert)
    case("injection", payload + " :: expr", ["check", "p.toml"], {"p.toml": graph({"f": payload}, {"x": 1})},
         codes=(2,))

# ---------------------------------------------------------------- malformed files

for label, raw in [("empty", b""), ("binary", bytes(range(256))), ("bad utf-8", b"title = \"\xff\xfe\"\n"),
                   ("BOM", "\ufefftitle = 'x'\n[graph]\nf = 'x'\n[values]\nx = 1\n".encode()),
                   ("no tables", b"title = 'x'\n"), ("graph is a string", b"graph = 'x'\n"),
                   ("values a list", b"[graph]\nf = 'x*y'\nvalues = [1]\n"),
                   ("value a string", b"[graph]\nf = 'x*y'\n[values]\nx = 'a'\ny = 1\n"),
                   ("value nan", b"[graph]\nf = 'x*y'\n[values]\nx = nan\ny = 1\n"),
                   ("value bool", b"[graph]\nf = 'x*y'\n[values]\nx = true\ny = 1\n"),
                   ("cycle", b"[graph]\na = 'b + x'\nb = 'a * x'\n[values]\nx = 1\n"),
                   ("self loop", b"[graph]\nf = 'f + x'\n[values]\nx = 1\n"),
                   ("layers 0", b"[network]\nlayers = [2, 0, 2]\n"),
                   ("layers huge", b"[network]\nlayers = [100000, 100000, 10]\n"),
                   ("layers negative", b"[network]\nlayers = [2, -1]\n"),
                   ("activations wrong length", b"[network]\nlayers = [2, 2, 2]\nactivations = ['tanh']\n"),
                   ("unknown key", b"[graph]\nf = 'x'\nfoo = 1\n[values]\nx = 1\n"),
                   ("directory", None)]:
    files = {"p.toml": raw} if raw is not None else {"p.toml/.keep": b""}
    case("malformed", label, ["check", "p.toml", "--json"], files, codes=(2,))


# ---------------------------------------------------------------- running

def run_case(c, timeout) -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in c["files"].items():
            p = Path(tmp) / name
            p.parent.mkdir(parents=True, exist_ok=True)
            (p.write_bytes if isinstance(content, bytes) else p.write_text)(content)
        start = time.perf_counter()
        out_target = open(c["stdout_file"], "w") if c["stdout_file"] else subprocess.PIPE  # noqa: SIM115
        try:
            proc = subprocess.run([*DERIVE, *c["args"]], cwd=tmp, stdout=out_target, stderr=subprocess.PIPE,
                                  text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return "hang", f"no answer within {timeout:g} s"
        finally:
            if c["stdout_file"]:
                out_target.close()
        secs = time.perf_counter() - start
        out, err, code = proc.stdout or "", proc.stderr or "", proc.returncode
        if "Traceback" in err or "Traceback" in out:
            return "traceback", err.strip().splitlines()[-1][:160]
        if code == 3:
            return "internal", err.strip()[:160]
        if code not in c["codes"]:
            return "wrong", f"exit {code}, expected {c['codes']}: {err.strip()[:160]}"
        if code == 2 and len([ln for ln in err.splitlines() if ln.startswith("derive: error")]) != 1:
            return "wrong", f"exit 2 without one clear error line: {err.strip()[:160]}"
        if c["expect"]:
            cwd = os.getcwd()
            os.chdir(tmp)
            try:
                problem = c["expect"](out, err, code)
            finally:
                os.chdir(cwd)
            if problem:
                return "wrong", problem
        if code == 2:
            return "clear error", f"{secs:.1f} s: {err.strip()[:120]}"
        return "ok", f"{secs:.1f} s"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="run one class")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("-v", action="store_true", help="print every case")
    args = ap.parse_args(argv)
    counts: dict = {}
    for c in CASES:
        if args.only and c["cls"] != args.only:
            continue
        verdict, detail = run_case(c, args.timeout)
        counts.setdefault(c["cls"], {}).setdefault(verdict, 0)
        counts[c["cls"]][verdict] += 1
        if args.v or verdict not in ("ok", "clear error"):
            print(f"[{c['cls']}] {c['name'][:70]}: {verdict.upper()} {detail}", flush=True)
    total: dict = {}
    for cls, per in counts.items():
        print(f"{cls:10s} " + ", ".join(f"{k} {v}" for k, v in sorted(per.items())))
        for k, v in per.items():
            total[k] = total.get(k, 0) + v
    print(f"{'all':10s} {sum(total.values())} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(total.items())))
    return 0 if set(total) <= {"ok", "clear error"} else 1


if __name__ == "__main__":
    sys.exit(main())
