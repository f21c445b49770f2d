"""examples/tour.ipynb runs from top to bottom without an error (nbclient, ipykernel), in the
test's own Python, and is committed with its outputs cleared."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TOUR = Path(__file__).resolve().parents[2] / "examples" / "tour.ipynb"


def test_tour_is_committed_without_outputs():
    nb = nbformat.read(TOUR, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


def test_tour_runs(tmp_path, monkeypatch):
    # a kernel spec for this very Python (the venv's), found before any user-wide "python3"
    spec = tmp_path / "jupyter" / "kernels" / "derive-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "derive test", "language": "python"}), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nb = nbformat.read(TOUR, as_version=4)
    NotebookClient(nb, kernel_name="derive-test", timeout=300, allow_errors=False,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    # figures: the circuit and its solution, Mazur's diagram and his solution
    assert sum("<svg" in h for h in html) >= 4
    assert (tmp_path / "tour-output" / "circuit.pdf").is_file()
    assert (tmp_path / "tour-output" / "sheets" / "answers-v2.tex").is_file()
    texts = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "total error 0.298371109, dE/dw5 = 0.082167041" in texts
    assert "(True, True, True)" in texts
