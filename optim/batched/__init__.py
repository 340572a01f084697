"""The batched torch engine: R runs at once, x: (R, d), on any device."""
from .engine import run
from .recorder import METRICS, Trace, log_checkpoints
from .rules import make_rule

__all__ = ["METRICS", "Trace", "log_checkpoints", "make_rule", "run"]
