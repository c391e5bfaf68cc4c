"""`python -m thisday` runs the CLI."""

from .cli import main

main()
