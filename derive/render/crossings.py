"""Edge crossings of a layered graph drawing (render.tikz): counting them between neighbouring
columns, and moving vertices within their column while that removes crossings. Plain lists of
vertices per column; `down` maps a vertex to its neighbours in the next column."""
from __future__ import annotations

from itertools import pairwise


def between(left, right, down) -> int:
    """Edge crossings between two neighbouring columns (straight segments cross exactly when
    their ends are in opposite orders)."""
    at = {v: k for k, v in enumerate(right)}
    ends = [(i, at[w]) for i, v in enumerate(left) for w in down[v] if w in at]
    return sum(1 for a in range(len(ends)) for b in range(a + 1, len(ends))
               if (ends[a][0] - ends[b][0]) * (ends[a][1] - ends[b][1]) < 0)


def total(cols, down) -> int:
    return sum(between(a, b, down) for a, b in pairwise(cols))


def fewer(cols, down, chains=(), rounds: int = 4) -> list[list]:
    """Swap neighbours within a column while that removes crossings, then move single vertices to
    the place in their column with the fewest crossings, and a long edge's waypoints (`chains`:
    one list per edge) all to the top or all to the bottom of their columns, a wire going round
    the others. Each move is kept only when it removes crossings."""
    def around(i):
        return ((between(cols[i - 1], cols[i], down) if i > 0 else 0)
                + (between(cols[i], cols[i + 1], down) if i + 1 < len(cols) else 0))

    for _ in range(rounds):
        improved = False
        for i, col in enumerate(cols):
            for k in range(len(col) - 1):
                before = around(i)
                col[k], col[k + 1] = col[k + 1], col[k]
                if around(i) < before:
                    improved = True
                else:
                    col[k], col[k + 1] = col[k + 1], col[k]
        if not improved:
            break
    for _ in range(rounds):
        improved = False
        for i, col in enumerate(cols):
            for v in list(col):
                best, here = around(i), col.index(v)
                col.remove(v)
                spots = []
                for k in range(len(col) + 1):
                    col.insert(k, v)
                    spots.append((around(i), k != here, k))
                    col.remove(v)
                count, _, k = min(spots)
                col.insert(k if count < best else here, v)
                improved = improved or count < best
        improved = _round_the_others(cols, down, chains) or improved
        if not improved:
            break
    return cols


def _round_the_others(cols, down, chains) -> bool:
    improved = False
    for chain in chains:
        for top in (True, False):
            before, saved = total(cols, down), [list(c) for c in cols]
            for c in cols:
                for v in [v for v in c if v in chain]:
                    c.remove(v)
                    c.insert(0 if top else len(c), v)
            if total(cols, down) < before:
                improved = True
            else:
                cols[:] = saved
    return improved
