"""Matching an Inventory against the vulnerability DB."""
