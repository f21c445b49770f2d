"""The small error hierarchy. Every message names what was wrong and what was expected."""
from .i18n import _


class DeriveError(Exception):
    """Any error derive reports to a user (exit code 2 from the CLI)."""


class ParseError(DeriveError):
    """User math that could not be read. `position` is a 0-based column when known."""

    def __init__(self, message: str, text: str = "", position: int | None = None):
        self.text = text
        self.position = position
        # in the language the message was made in (i18n): verify shows it to a student
        where = _(" at column {column}").format(column=position + 1) if position is not None else ""
        shown = _(" in {answer}").format(answer=repr(text)) if text and len(text) <= 120 else ""
        super().__init__(f"{message}{where}{shown}")
        self.bare = message


class ProblemError(DeriveError):
    """A problem file that is malformed: names the file, the key and the expectation."""

    def __init__(self, source: str, key: str, message: str):
        self.source = source
        self.key = key
        super().__init__(f"{source}: {key}: {message}" if key else f"{source}: {message}")


class CheckFailed(DeriveError):
    """A derived quantity disagrees with its numeric check."""


class LatexError(DeriveError):
    """LaTeX compilation failed; carries the first error and the line."""


class LatexMissing(LatexError):
    """latexmk/pdflatex are not installed; the .tex was written."""


class DomainError(DeriveError):
    """A value that is not a finite real number (log of 0, division by 0, overflow, (−2)^0.5), or a
    problem undefined at its own values (exit code 2)."""


class VerifyError(DeriveError):
    """An answer that cannot be read or a NAME the problem does not have (exit code 2)."""
