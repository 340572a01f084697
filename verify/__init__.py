"""Claims registry, sweeps, statistics, verdicts and the command line (python -m verify)."""
__version__ = "0.1.0"
