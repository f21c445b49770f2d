"""Written forms of answers that the parser does not know (rewritten before it reads them)."""
