"""The engine: math only. The safe expression parser, graphs and auto-staging, the rule table,
the one reverse mode, the numeric proof and the frozen step records. Never imports rendering."""
