"""Reading and grading answers: a student's derivation (plain text or LaTeX) read, checked at
random points against the derivation, diagnosed as a change of it, and explained (verdicts, feedback)."""
