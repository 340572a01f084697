"""The algorithms of docs/algorithms.md, twice: a float64 NumPy reference and a batched torch engine."""
from . import algorithms  # noqa: F401  (fills the registry)
from .algorithms import streams
from .registry import ALGORITHMS, Algorithm, Param, get, validate
from .schedules import Schedule, adasam_corollary, horizon_constant

__all__ = ["ALGORITHMS", "Algorithm", "Param", "Schedule", "adasam_corollary", "get", "horizon_constant",
           "streams", "validate"]
