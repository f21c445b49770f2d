"""Rendering: LaTeX/Markdown strings from derivations, and PDF compilation."""
