"""`python -m hub` is the `passerelle` command."""

from hub.cli.main import main

main()
