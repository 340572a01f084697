"""The claims registry: every module in verify/claims/ defines CLAIM (a verify.claim.Claim)."""
from __future__ import annotations

import importlib
import pkgutil

from . import claims as _claims_pkg
from .claim import Claim


def all_claims() -> dict[str, Claim]:
    """Every claim, by id, in a stable order (module name)."""
    out = {}
    for mod in sorted(m.name for m in pkgutil.iter_modules(_claims_pkg.__path__)):
        claim = importlib.import_module(f"{_claims_pkg.__name__}.{mod}").CLAIM
        out[claim.id] = claim
    return out


def claims_for(algorithm: str | None = None, claim_id: str | None = None) -> list[Claim]:
    """The claims to run: one by id, those involving an algorithm, or all. Unknown id -> ValueError."""
    claims = all_claims()
    if claim_id is not None:
        if claim_id not in claims:
            raise ValueError(f"unknown claim {claim_id!r}: choose from {', '.join(claims)}")
        chosen = [claims[claim_id]]
    else:
        chosen = list(claims.values())
    if algorithm is not None:
        chosen = [c for c in chosen if algorithm in c.algorithms]
    return chosen
