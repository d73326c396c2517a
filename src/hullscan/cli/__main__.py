"""`python -m hullscan.cli`."""

from hullscan.cli.app import main

main()
