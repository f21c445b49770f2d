"""derive: chain-rule derivations for computational graphs and networks, proven numerically."""

__version__ = "0.1.0"
