"""OS release files and OS package databases."""
