"""Teaching: worksheets (variants, exercises, their .tex) and verify (reading a student's answer,
equivalence, diagnosis, matrix-form answers, feedback)."""
