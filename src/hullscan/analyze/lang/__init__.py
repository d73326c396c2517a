"""Language package analyzers (Python, npm, Java, Go, ...)."""
