"""A table of bad, hostile and unlucky inputs, run through the real command line.

    python scripts/hostile.py [--only CLASS] [--timeout S] [-v]

Each case runs `derive ...` in a fresh process with a time limit and is judged by what a user
sees: a clear one-line error (exit 2) or a correct result (exit 0/1) is good; a traceback, an
exit code 3, a hang past the limit, JSON that does not parse, or a result that disagrees with the
value computed here is bad. Prints one line per bad case and the counts per class. The whole table
takes many minutes; `make test` runs `--quick 1` (the first case of every class, through
tests/cli/test_hostile_script.py); tests/cli/test_hostile.py holds the named tests of each class.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

DERIVE = [sys.executable, "-m", "derive"]
CASES: list[dict] = []


def case(cls, name, args, files=None, expect=None, stdin=None, stdout_file=None, codes=(0, 1, 2), env=None,
         stdout_closed=False, interrupt=None, python=False):
    """expect(stdout, stderr, code) -> None or a string saying what is wrong.

    files: {name: text | bytes | ("symlink", target) | ("fifo",)}; env: variables added to the
    run's environment ("{tmp}" in a value is the case's folder); stdout_closed: run with fd 1
    closed; interrupt: (glob, signal): send the signal once a file matching the glob (under the
    case's folder) exists; python: `args` are Python's (a script using derive in-process), not derive's."""
    CASES.append({"cls": cls, "name": name, "args": args, "files": files or {}, "expect": expect,
                  "stdin": stdin, "stdout_file": stdout_file, "codes": codes, "env": env or {},
                  "stdout_closed": stdout_closed, "interrupt": interrupt, "python": python})


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
    text = graph({"f": f"{name} * y"}, {json.dumps(name, ensure_ascii=False): 2, "y": 3})  # a quoted TOML key
    case("unicode", f"name {name} :: pdf", ["report", "p.toml", "-o", "r.pdf"], {"p.toml": text},
         codes=(0,) if name != "ŧ" else (0, 2))  # the parser takes Greek and ASCII names (ŧ: a clear error)
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

for expr, vals in [("abs(max(x, y) - z) * w", {"x": 2, "y": -1, "z": 3, "w": 2}),
                   ("max(x, y) * z", {"x": 1, "y": 2, "z": 3})]:
    case("worksheet", f"max/abs {expr}", ["worksheet", "p.toml", "-o", "ws", "--tex-only"],
         {"p.toml": graph({"f": expr}, vals)}, codes=(0,))

# ---------------------------------------------------------------- Moodle markup from input (issue 27, item 3)

for payload in ["{1:NUMERICAL:=3:0.1}", "$ {1:SHORTANSWER:=x} $", "{#1}", "]]> <script>alert(1)</script>",
                "@@PLUGINFILE@@/x.svg", "\\href{javascript:alert(1)}{x}", "$\\href{javascript:alert(1)}{x}$",
                "&#123;1:MC:=a~b&#125;"]:
    text = (f'title = {json.dumps(payload)}\ndescription = {json.dumps(payload)}\n'
            + graph({"q": "a + b", "f": "q * c"}, {"a": 1, "b": 2, "c": 3}))

    def no_moodle_markup(out, err, code, _p=payload):
        import re
        import xml.etree.ElementTree as ET
        quiz = Path("mq/quiz.xml")
        if not quiz.exists():
            return "quiz.xml not written"
        body = quiz.read_text()
        try:
            ET.fromstring(body)
        except ET.ParseError as e:
            return f"quiz.xml does not parse: {e}"
        if len(re.findall(r"\{[0-9]*:[A-Z_]+:", body, re.IGNORECASE)) != body.count("{1:NUMERICAL:="):
            return "a cloze sub-question from input"
        if re.search(r"\{#\d+\}", body) or "<script" in body:
            return "live Moodle markup from input"
        if body.count("@@PLUGINFILE@@") != len(re.findall(r'src="@@PLUGINFILE@@/', body)):
            return "@@PLUGINFILE@@ from input"
        return None
    case("moodle", payload, ["worksheet", "p.toml", "--format", "moodle", "-o", "mq"], {"p.toml": text},
         no_moodle_markup, codes=(0,))

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


# ---------------------------------------------------------------- live HTML from input (issue 27, item 2)

def live_html(markdown: str) -> str | None:
    """What in `markdown` a CommonMark renderer that passes raw HTML and every link scheme (as blog
    engines do), with or without a $...$ math extension, turns into a live element, attribute or link."""
    import re
    from html.parser import HTMLParser

    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    safe = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "code", "pre", "ul", "ol", "li", "img", "hr",
            "br", "table", "thead", "tbody", "tr", "th", "td", "span", "div", "a", "blockquote", "eq", "eqn", "section"}
    found = []

    class Live(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag not in safe:
                found.append(f"<{tag}>")
            for name, value in attrs:
                if name.startswith("on") or name in ("formaction", "srcdoc"):
                    found.append(f"<{tag} {name}>")
                if name in ("href", "src") and value and re.match(r"\s*[a-zA-Z][\w+.-]*:", value):
                    found.append(f"<{tag} {name}={value[:30]}>")
    plain, math = MarkdownIt("commonmark", {"html": True}), MarkdownIt("commonmark", {"html": True})
    for md in (plain, math.use(dollarmath_plugin)):
        md.validateLink = lambda url: True
        Live().feed(md.render(markdown))
    return f"live HTML: {', '.join(found[:3])}" if found else None


def md_is_inert(*names):
    def check(out, err, code):
        for name in names:
            if not Path(name).exists():
                return f"{name} not written"
            problem = live_html(Path(name).read_text(encoding="utf-8"))
            if problem:
                return f"{name}: {problem}"
        return None
    return check


HTML_PAYLOADS = ["$<img src=x onerror=alert(1)>$", "<script>alert(1)</script>", "<svg onload=alert(1)>",
                 "<iframe src=javascript:alert(1)></iframe>", "[click](javascript:alert(1))", "<javascript:alert(1)>",
                 "\\href{javascript:alert(1)}{x}", "$\\href{javascript:alert(1)}{x}$", "$a<b$ and $c>d$",
                 "<a href='javascript:alert(1)'>x</a>", "&#60;script&#62;", "<details open ontoggle=alert(1)>"]
for payload in HTML_PAYLOADS:
    text = (f"title = {json.dumps(payload)}\ndescription = {json.dumps(payload)}\n"
            + graph({"q": "x + y", "f": "q * z"}, {"x": -2, "y": 5, "z": -4})
            + f"[translations.ko]\ntitle = {json.dumps(payload)}\ndescription = {json.dumps(payload)}\n")
    case("html", f"{payload[:40]} :: report md", ["report", "p.toml", "-o", "r.md"], {"p.toml": text},
         md_is_inert("r.md"), codes=(0,))
    case("html", f"{payload[:40]} :: report md --lang ko", ["report", "p.toml", "-o", "r.md", "--lang", "ko"],
         {"p.toml": text}, md_is_inert("r.md"), codes=(0,))
    answers = (f"[[answer]]\nstudent = {json.dumps(payload)}\nwrt = \"x\"\nanswer = {json.dumps(payload)}\n"
               '[[answer]]\nstudent = "b"\nwrt = "x"\nanswer = "z"\n')
    case("html", f"{payload[:40]} :: feedback.md", ["verify", "p.toml", "--answers", "a.toml", "-o", "fb"],
         {"p.toml": text, "a.toml": answers}, md_is_inert("fb/feedback.md"), codes=(0,))
case("html", "output name javascript: :: figure link", ["report", "circuit", "-o", "javascript:alert(1).md"],
     {}, md_is_inert("javascript:alert(1).md"), codes=(0,))

# ---------------------------------------------------------------- outputs whole or untouched (item 5)


def untouched(name, content):
    def check(out, err, code):
        if Path(name).read_text() != content:
            return f"{name} (outside the output folder) was changed through a link"
        return None
    return check


for fmt in ("md", "tex", "pdf"):
    case("outputs", f"report -o a symlink :: {fmt}", ["report", "circuit", "-o", f"out/r.{fmt}"],
         {"outside.txt": "precious", f"out/r.{fmt}": ("symlink", "outside.txt"),
          "out/r.tex": ("symlink", "outside.txt")}, untouched("outside.txt", "precious"), codes=(0, 2))
case("outputs", "feedback.md a symlink", ["verify", "circuit", "--answers", "a.toml", "-o", "fb"],
     {"outside.txt": "precious", "fb/feedback.md": ("symlink", "../outside.txt"),
      "a.toml": '[[answer]]\nstudent = "s"\nwrt = "x"\nanswer = "z"\n'}, untouched("outside.txt", "precious"),
     codes=(0, 2))
case("outputs", "check --json, stdout closed", ["check", "circuit", "--json"], stdout_closed=True, codes=(2,))
case("outputs", "show, stdout closed", ["show", "circuit"], stdout_closed=True, codes=(2,))
for encoding in ("latin-1", "ascii", "cp1252"):
    for args in (["show", "circuit"], ["check", "mlp_222", "--json"], ["list"],
                 ["verify", "circuit", "--wrt", "x", "--answer", "z"],
                 ["verify", "circuit", "--wrt", "x", "--answer", "z", "--lang", "ko"]):
        case("outputs", f"PYTHONIOENCODING={encoding} {' '.join(args)}", args, env={"PYTHONIOENCODING": encoding},
             codes=(0,))

# ---------------------------------------------------------------- tolerances (item 4)

for tol in ("nan", "inf", "-inf", "-1", "0", "1", "abc", "", "1e-12", "1e-300", "1e400"):
    case("tolerance", f"--tolerance {tol!r}", ["worksheet", "circuit", "--format", "moodle", "-o", "mq",
                                               "--tolerance", tol], codes=(2,))
for tol in ("1e-9", "0.5"):
    case("tolerance", f"--tolerance {tol!r}", ["worksheet", "circuit", "--format", "moodle", "-o", "mq",
                                               "--tolerance", tol], codes=(0,))

# ---------------------------------------------------------------- letters beyond Latin-1 in PDFs (item 8)


def pdf_shows(*letters):
    def check(out, err, code):
        if not Path("r.pdf").exists():
            return "r.pdf not written"
        import unicodedata
        shown = subprocess.run(["pdftotext", "r.pdf", "-"], capture_output=True, text=True).stdout
        shown = unicodedata.normalize("NFKC", shown)  # a math Ω comes back as the Ohm sign
        missing = [c for c in letters if unicodedata.normalize("NFKC", c) not in shown]
        return f"not in the PDF: {' '.join(missing)}" if missing else None
    return check


for letters in ("ς ά ϑ ƀ ĸ", "ŧ Ŋ ж Ω", "ά ĸ 간단한"):
    text = f"title = {json.dumps('Letters ' + letters, ensure_ascii=False)}\n" + graph({"f": "x * y"}, {"x": 2, "y": 3})
    case("letters", f"title {letters}", ["report", "p.toml", "-o", "r.pdf"], {"p.toml": text},
         pdf_shows(*letters.split()), codes=(0,))
for name in ("ά", "ς", "ϑ"):
    text = graph({"f": f"{name} * y"}, {json.dumps(name, ensure_ascii=False): 2, "y": 3})
    case("letters", f"name {name}", ["report", "p.toml", "-o", "r.pdf"], {"p.toml": text}, pdf_shows(name),
         codes=(0,))

# ---------------------------------------------------------------- worksheets without TeX (item 9)


def every_tex(versions):
    def check(out, err, code):
        want = {f"{s}-v{k}.tex" for s in ("worksheet", "answers") for k in range(1, versions + 1)}
        got = {p.name for p in Path("ws").glob("*.tex")}
        if want - got:
            return f"missing {sorted(want - got)[:3]}"
        if err.count("apt-get install") != 1:
            return f"what to install said {err.count('apt-get install')} times"
        return None
    return check


NO_TEX = {"PATH": "{tmp}/bin"}  # a PATH that holds python only
for args in (["circuit", "fanout"], ["circuit", "--lang", "ko"], ["--builtin"]):
    case("notex", f"worksheet {' '.join(args)}", ["worksheet", *args, "--versions", "2", "-o", "ws"],
         {"bin/python": ("symlink", sys.executable)}, every_tex(2), codes=(0,), env=NO_TEX)

# ---------------------------------------------------------------- signals, unreadable files (item 10)


def no_svg_folder(out, err, code):
    left = list(Path("t").glob("derive-svg-*"))
    return f"left {left[0].name}" if left else None


for sig in (15, 2):
    case("signals", f"signal {sig} while SVG figures are made", ["report", "--builtin", "-o", "r.md"],
         {"t/.keep": ""}, no_svg_folder, codes=(130, -sig, 1, 2), env={"TMPDIR": "{tmp}/t"},
         interrupt=("t/derive-svg-*", sig))
case("readerr", "problem file is a FIFO", ["check", "p.toml"], {"p.toml": ("fifo",)},
     lambda out, err, code: None if "not a regular file" in err else "not said: not a regular file", codes=(2,))
case("readerr", "answers file is a FIFO", ["verify", "circuit", "--answers", "a.toml", "-o", "fb"],
     {"a.toml": ("fifo",)},
     lambda out, err, code: None if "not a regular file" in err else "not said: not a regular file", codes=(2,))
case("readerr", "problem file is a directory", ["check", "p.toml"], {"p.toml/.keep": ""}, codes=(2,))


# ---------------------------------------------------------------- threads, size and time (issue 27, items 1, 7, 8)

THREADS_SCRIPT = r"""
import json, sys, threading
from concurrent.futures import ThreadPoolExecutor
import mpmath
import derive
from derive import i18n
VERIFY = [("mlp_222", "w_kj", "(o_k - t_k) o_k(1 - o_k) h_j"), ("mlp_222", "w_kj", "(o_k - t_k) o_k h_j"),
          ("mlp_222", "delta_j", r"\sigma'(net_j) \sum_k \delta_k w_{kj}"), ("circuit", "x", "z"),
          ("circuit", "x", "q"), ("fanout", "x", "y + 2x"), ("neuron_sigmoid", "w_0", "f(1 - f) x_0"),
          ("affine_layer", "W", "X^T dY"), ("mlp_nielsen", "delta^L_j", "(a^L_j - y_j) a^L_j(1 - a^L_j)")]
MODE = sys.argv[1]
def verify(n, w, a, lang):
    def call():
        if MODE == "dps":
            mpmath.mp.dps = 5 if threading.get_ident() % 2 else 1000
        v = derive.verify(derive.load(n), wrt=w, answer=a, lang=lang)
        return json.dumps(v.to_json(), sort_keys=True), v.lang
    return call
def solve(n):
    return lambda: repr(sorted((k, repr(v)) for k, v in derive.load(n).solve().gradients.items()))
calls = [(f"{n} {w} {a} {lang}", verify(n, w, a, lang)) for n, w, a in VERIFY for lang in ("en", "ko")]
calls += [(n, solve(n)) for n in ("circuit", "staged", "mlp_222", "softmax_with_loss")]
def outcome(f):
    try:
        return f()
    except Exception as e:
        return f"raised {type(e).__name__}: {e}"
serial = {name: outcome(f) for name, f in calls}
barrier = threading.Barrier(8)
def start(_):
    barrier.wait()
jobs = calls * 3
with ThreadPoolExecutor(8) as pool:
    list(pool.map(start, range(8)))
    got = list(pool.map(lambda c: (c[0], outcome(c[1])), jobs))
bad = [name for name, o in got if o != serial[name]]
print(json.dumps({"calls": len(jobs), "mismatches": len(bad), "first": bad[:3],
                  "dps_after": mpmath.mp.dps, "language": i18n.current()}))
"""


def threads_agree(mode):
    def check(out, err, code):
        try:
            data = json.loads(out)
        except ValueError:
            return f"no JSON: {err.strip()[-160:]}"
        if data["mismatches"]:
            return f"{data['mismatches']} of {data['calls']} threaded calls differ from serial: {data['first']}"
        if data["language"] != "en":
            return f"the language leaked: {data['language']}"
        return None
    return check


def thread_cases() -> None:
    """Eight threads verifying and solving at once agree with the same calls made serially, also
    when each thread sets its own mpmath.mp.dps (5 or 1000); a 12-step graph that uses each step
    three times reports in seconds; log σ(−1000) is derived; a 5,000-digit integer is a limit."""
    for mode in ("plain", "dps"):
        case("threads", f"8 threads vs serial :: {mode}", ["-c", THREADS_SCRIPT, mode], expect=threads_agree(mode),
             codes=(0,), python=True)
    steps = {"s1": "tanh(x) + x*x + x"}
    steps.update({f"s{k}": f"tanh(s{k - 1}) + s{k - 1}*s{k - 1} / 4 + s{k - 1}" for k in range(2, 13)})
    deep = graph(steps, {"x": 0.1})
    for fmt in ("md", "tex", "pdf"):
        case("threads", f"12 steps, each using the last three times :: report {fmt}",
             ["report", "p.toml", "-o", f"r.{fmt}"], {"p.toml": deep}, codes=(0,))
    logsig = graph({"s": "sigmoid(x)", "f": "log(s)"}, {"x": -1000})
    case("threads", "log sigmoid(-1000) :: check", ["check", "p.toml", "--json"], {"p.toml": logsig},
         json_value(("gradients", "x"), 1.0), codes=(0,))
    case("threads", "log sigmoid(-1000) :: report md", ["report", "p.toml", "-o", "r.md"], {"p.toml": logsig},
         lambda out, err, code: None if "10^{434}" in Path("r.md").read_text() else "1/s not printed in 50 digits",
         codes=(0,))
    for where, text in (("value", graph({"f": "x * 3"}, {"x": "7" * 5000})),
                        ("step", graph({"f": "x * " + "7" * 5000}, {"x": 2}))):
        case("threads", f"5,000-digit integer :: {where}", ["check", "p.toml"], {"p.toml": text}, codes=(2,))


thread_cases()

# ---------------------------------------------------------------- running

_CWD = threading.Lock()


def _make_files(tmp: str, files: dict) -> None:
    for name, content in files.items():
        p = Path(tmp) / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple) and content[0] == "symlink":
            p.symlink_to(Path(tmp) / content[1])
        elif isinstance(content, tuple) and content[0] == "fifo":
            os.mkfifo(p)
        else:
            (p.write_bytes if isinstance(content, bytes) else p.write_text)(content)


def _run(c, tmp: str, timeout: float):
    """(stdout, stderr, exit code) of the case's run, or None when it hung."""
    env = {**os.environ, **{k: v.replace("{tmp}", tmp) for k, v in c["env"].items()}}
    out_target = open(c["stdout_file"], "w") if c["stdout_file"] else subprocess.PIPE  # noqa: SIM115
    command = [*(DERIVE[:1] if c.get("python") else DERIVE), *c["args"]]  # python: a script using derive
    proc = subprocess.Popen(command, cwd=tmp, stdout=out_target, stderr=subprocess.PIPE, text=True,
                            errors="replace",
                            stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                            preexec_fn=(lambda: os.close(1)) if c["stdout_closed"] else None)
    try:
        if c["interrupt"]:
            pattern, sig = c["interrupt"]
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and proc.poll() is None and not list(Path(tmp).glob(pattern)):
                time.sleep(0.02)
            time.sleep(0.2)
            proc.send_signal(sig)
        out, err = proc.communicate(timeout=timeout)
        return out or "", err or "", proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        return None
    finally:
        if c["stdout_file"]:
            out_target.close()


def run_case(c, timeout) -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        _make_files(tmp, c["files"])
        start = time.perf_counter()
        ran = _run(c, tmp, timeout)
        if ran is None:
            return "hang", f"no answer within {timeout:g} s"
        secs = time.perf_counter() - start
        out, err, code = ran
        if "Traceback" in err or "Traceback" in out:
            return "traceback", err.strip().splitlines()[-1][:160]
        if code == 3:
            return "internal", err.strip()[:160]
        if code not in c["codes"]:
            return "wrong", f"exit {code}, expected {c['codes']}: {err.strip()[:160]}"
        if code == 2 and len([ln for ln in err.splitlines() if ln.startswith("derive: error")]) != 1:
            return "wrong", f"exit 2 without one clear error line: {err.strip()[:160]}"
        if c["expect"]:
            with _CWD:  # expect() reads paths relative to the case's folder; one at a time (--jobs)
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
    ap.add_argument("--quick", type=int, default=0, metavar="N",
                    help="only the first N cases of each class (make test runs --quick 1)")
    ap.add_argument("--jobs", type=int, default=1, help="cases run at once")
    args = ap.parse_args(argv)
    chosen, per_class = [], {}
    for c in CASES:
        if args.only and c["cls"] != args.only:
            continue
        per_class[c["cls"]] = per_class.get(c["cls"], 0) + 1
        if not args.quick or per_class[c["cls"]] <= args.quick:
            chosen.append(c)
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        verdicts = pool.map(lambda c: run_case(c, args.timeout), chosen)
    counts: dict = {}
    for c, (verdict, detail) in zip(chosen, verdicts, strict=True):
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
