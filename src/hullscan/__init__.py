"""hullscan: find known vulnerabilities in container images."""

__version__ = "0.1.0"
