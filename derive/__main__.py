"""`python -m derive`: the command line."""
from .cli import main

main()
