"""Analyzers turn the files of one layer into packages and OS facts (see base.py)."""
