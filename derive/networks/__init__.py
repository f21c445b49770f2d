"""Networks and matrix layers: notations, per-unit graphs, per-parameter chains, index rules,
BP1–BP4 and matrix forms, on top of the engine's one reverse mode (`networks.solve`)."""
