"""`python -m hub` is the `passerelle` command."""

from .cli import main

main()
