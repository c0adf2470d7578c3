"""The `phonelab` command line: one small module per command group."""
