"""Command line: argument parsing, logging, progress, and the mapping of errors to exit codes."""

from hullscan.cli.app import cli, main

__all__ = ["cli", "main"]
