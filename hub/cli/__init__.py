"""The `passerelle` command line: one module per command group, `common` for the shared options."""
