"""One module per advisory feed; each turns its native format into Advisory records."""
