"""Bad input of ``python -m verify conform``, refused in one line before anything runs."""
from __future__ import annotations

from optim import get, validate

from .conform import SUPPORTED
from .conform_drive import interface_of
from .user_module import import_user_module


class ConformInputError(ValueError):
    """A bad MODULE:NAME or --hp; the CLI prints it as one line (exit 2)."""


def load_target(spec: str):
    """The object MODULE:NAME names (MODULE imported with the working directory on sys.path)."""
    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        raise ConformInputError(f"{spec!r} is not MODULE:NAME (e.g. examples.my_sam:MySAM)")
    try:
        obj = import_user_module(module)
    except ValueError as e:
        raise ConformInputError(str(e)) from None
    for part in name.split("."):
        if not hasattr(obj, part):
            raise ConformInputError(f"{module!r} has no attribute {name!r}")
        obj = getattr(obj, part)
    try:
        interface_of(obj)
    except ValueError as e:
        raise ConformInputError(f"{spec}: {e}") from None
    return obj


def parse_hp(algo: str, text: str) -> dict:
    """``k=v,...`` as typed values of ``algo``'s schema (reals, True/False, choices, None); checked."""
    try:
        schema = get(algo)
    except ValueError as e:
        raise ConformInputError(f"--as: {e}") from None
    if algo not in SUPPORTED:
        raise ConformInputError(f"--as {algo}: conformance supports {', '.join(SUPPORTED)} "
                                "(LETS needs validation batches)")
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        key, sep, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key:
            raise ConformInputError(f"--hp {item!r}: expected k=v (e.g. --hp rho=0.05,lr=0.1)")
        known = {p.name: p for p in schema.params}
        if key not in known:
            raise ConformInputError(f"--hp {key}: unknown hyperparameter for {algo}: allowed are {', '.join(sorted(known))}")
        out[key] = _typed(known[key], raw)
    try:
        validate(algo, out)
    except ValueError as e:
        raise ConformInputError(f"--hp: {e}") from None
    return out


def _typed(p, raw: str):
    if p.kind == "choice":
        return raw
    if p.kind == "bool":
        if raw not in ("True", "False", "true", "false"):
            raise ConformInputError(f"--hp {p.name}={raw}: must be True or False")
        return raw.lower() == "true"
    if p.kind == "optional_real" and raw == "None":
        return None
    try:
        return float(raw)
    except ValueError:
        raise ConformInputError(f"--hp {p.name}={raw}: not a number: must be {p.allowed()}") from None
