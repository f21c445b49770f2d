"""`derive serve`: the practice page, a thin web layer over derive's API (no math here).

app.py (Starlette routes, request checks, error pages), view.py (Jinja2 HTML, MathML), pool.py (worker
processes with a time limit: derive is not thread-safe), work.py (what a worker computes), store.py
(attempts in SQLite), templates/ and static/ (the page, its script and style).
"""
