"""Tests of the language package analyzers."""
