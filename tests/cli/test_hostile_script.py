"""scripts/hostile.py in `make test`: the first case of every class of hostile input (issue 27) runs
through the real command line and must end in a clear error or a correct result; the whole table
(`python scripts/hostile.py`) takes many minutes and is run by hand."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "hostile.py"
CLASSES = ("html", "outputs", "tolerance", "letters", "notex", "signals", "readerr")  # issue 27's classes


def test_the_first_case_of_every_class_is_handled(tmp_path):
    r = subprocess.run([sys.executable, SCRIPT, "--quick", "1", "--jobs", "2"], capture_output=True, text=True,
                       timeout=900, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    summary = {line.split()[0] for line in r.stdout.splitlines() if line.strip()}
    assert set(CLASSES) <= summary, r.stdout  # every class of issue 27 is in the table and ran


def test_the_script_lists_each_class_with_cases():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import hostile
    finally:
        sys.path.remove(str(SCRIPT.parent))
    per_class: dict = {}
    for c in hostile.CASES:
        per_class[c["cls"]] = per_class.get(c["cls"], 0) + 1
    assert all(per_class.get(cls, 0) >= 2 for cls in CLASSES), per_class
    assert hostile.live_html("$<img src=x onerror=alert(1)>$")  # the HTML judge sees a live element
    assert hostile.live_html("[x](javascript:alert(1))")
    assert hostile.live_html("$a\\lt b$ &lt;script&gt;") is None
