"""Matrix-form answers for [layers] problems: read (matrix_reading), evaluated with shapes (tree),
diagnosed (mistakes) and judged (answers)."""
