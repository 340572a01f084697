"""The claims registry: every module in verify/claims/ defines CLAIM (a verify.claim.Claim); users' claims
come from modules named on the command line (``--claims-from MODULE``) and from installed packages that
declare the entry point group ``samcheck.claims`` (each entry a Claim, a list of Claims or a module)."""
from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
from types import ModuleType

ENTRY_POINTS = "samcheck.claims"

from . import claims as _claims_pkg
from .claim import Claim
from .user_module import import_user_module


def all_claims() -> dict[str, Claim]:
    """Every claim, by id, in a stable order (module name)."""
    out = {}
    for mod in sorted(m.name for m in pkgutil.iter_modules(_claims_pkg.__path__)):
        claim = importlib.import_module(f"{_claims_pkg.__name__}.{mod}").CLAIM
        out[claim.id] = claim
    return out


def claims_in(obj) -> list[Claim]:
    """The claims an object holds: a Claim, a list of Claims, or a module's CLAIMS list or Claim attributes."""
    if isinstance(obj, Claim):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [c for c in obj if isinstance(c, Claim)]
    if isinstance(obj, ModuleType):
        if hasattr(obj, "CLAIMS"):
            return claims_in(list(obj.CLAIMS))
        return [v for v in vars(obj).values() if isinstance(v, Claim)]
    return []


def user_claims(modules=()) -> dict[str, Claim]:
    """Claims of the modules named in ``modules`` (imported with the working directory on the path) and of
    the ``samcheck.claims`` entry points. ValueError (one line) for a module that does not import, holds no
    claim, or re-declares an id."""
    found: dict[str, Claim] = {}
    sources = [(f"entry point {ep.name}", ep.load) for ep in importlib.metadata.entry_points(group=ENTRY_POINTS)]
    sources += [(f"--claims-from {m}", lambda m=m: _import(m)) for m in modules]
    builtin = all_claims()
    for where, load in sources:
        claims = claims_in(load())
        if not claims:
            raise ValueError(f"{where}: defines no verify.claim.Claim (declare one with verify.api.rate_claim)")
        for c in claims:
            if c.id in builtin or c.id in found:
                raise ValueError(f"{where}: claim id {c.id!r} is already defined; choose another id")
            found[c.id] = c
    return found


def _import(name: str) -> ModuleType:
    try:
        return import_user_module(name)
    except ValueError as e:
        raise ValueError(f"--claims-from {name}: {e}") from None


def claims_for(algorithm: str | None = None, claim_id: str | None = None, modules=()) -> list[Claim]:
    """The claims to run: one by id, those involving an algorithm, or all (the built-in ones and the users'
    of ``user_claims(modules)``, which run alone when ``modules`` is given). Unknown id -> ValueError."""
    extra = user_claims(modules)
    claims = extra if modules else {**all_claims(), **extra}
    if claim_id is not None:
        if claim_id not in claims:
            raise ValueError(f"unknown claim {claim_id!r}: choose from {', '.join(claims)}")
        chosen = [claims[claim_id]]
    else:
        chosen = list(claims.values())
    if algorithm is not None:
        chosen = [c for c in chosen if algorithm in c.algorithms]
    return chosen
