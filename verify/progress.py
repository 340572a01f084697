"""Progress of a run of claims: which claim, which batch, how long still.

``Progress`` is installed as ``Context.on_batch`` (``verify.executors.run_batches`` calls it once per
finished batch, cached or computed, with the batch, its info, how many of that sweep call's batches
are finished and how many it has). On a terminal it draws one tqdm line (claim k/n, the claim's id,
the batch and the ETA); elsewhere (a pipe, a CI log) it prints one line per computed batch and one
per finished claim, so a piped run shows what it is doing while it runs.

The ETA is the rest of the current sweep call (its mean seconds per computed batch times the batches
left) plus the claims still to come at the mean time of the finished ones; before the first claim
has finished only the sweep part is known, and the line says so ("+ ? for N claims").
"""
from __future__ import annotations

import sys
import time
from typing import Callable, Optional, TextIO

WIDTH = 100  # no progress line is longer (a CI log or an 100-column terminal)


def fmt_seconds(s: float) -> str:
    """``"42 s"``, ``"3.5 min"``, ``"1.2 h"``."""
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _fit(line: str, width: int = WIDTH) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."


class Progress:
    """Progress over ``n_claims`` claims; ``tty``: a tqdm line (else plain lines on ``stream``)."""

    def __init__(self, n_claims: int, tty: bool, stream: Optional[TextIO] = None, label: str = "",
                 clock: Callable[[], float] = time.monotonic):
        self.n = n_claims
        self.tty = tty
        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.clock = clock
        self.started = clock()
        self.claim: Optional[str] = None
        self.k = 0                      # claims started so far
        self.claim_times: list[float] = []
        self.claim_started = self.started
        self.claim_batches = self.claim_cached = 0
        self.call: Optional[tuple] = None
        self.call_started = self.last = self.started
        self.call_computed = 0
        self.bar = None
        if tty:
            from tqdm import tqdm
            self.bar = tqdm(total=n_claims, file=self.stream, leave=False, dynamic_ncols=True,
                            bar_format="{desc} {n_fmt}/{total_fmt} |{bar:12}| {postfix}")

    # -- the hooks -------------------------------------------------------------------------------

    def start_claim(self, claim: str) -> None:
        self.claim = claim
        self.k += 1
        self.claim_started = self.last = self.clock()
        self.claim_batches = self.claim_cached = 0
        self.call = None
        if self.bar is not None:
            self.bar.set_description_str(claim, refresh=False)
            self.bar.set_postfix_str(self._eta_text(0.0), refresh=True)

    def __call__(self, batch, info: dict, done: int, total: int) -> None:
        """``Context.on_batch``: one batch of a sweep call finished (``done`` of ``total``)."""
        now = self.clock()
        key = (getattr(batch, "claim", None), getattr(batch, "algorithm", None), getattr(batch, "label", None),
               total)
        if key != self.call:               # a new sweep call started after the previous event
            self.call, self.call_started, self.call_computed = key, self.last, 0
        self.last = now
        self.claim_batches += 1
        cached = bool(info.get("cached"))
        if cached:
            self.claim_cached += 1
        else:
            self.call_computed += 1
        rate = (now - self.call_started) / self.call_computed if self.call_computed else 0.0
        sweep_left = rate * (total - done)
        what = f"batch {done}/{total}" + (f" {batch.label}" if getattr(batch, "label", "") else "")
        if self.bar is not None:
            self.bar.set_postfix_str(f"{what}, {self._eta_text(sweep_left)}", refresh=True)
        elif not cached:
            wall = info.get("wall_s")
            took = f" in {wall:.1f} s" if isinstance(wall, (int, float)) else ""
            self._line(f"{self._prefix()} {what}{took}; {self._eta_text(sweep_left)}")

    def end_claim(self, verdict: Optional[str] = None) -> None:
        took = self.clock() - self.claim_started
        self.claim_times.append(took)
        self.last = self.clock()
        if self.bar is not None:
            self.bar.update(1)
            return
        cached = f", {self.claim_cached} cached" if self.claim_cached else ""
        v = f": {verdict}" if verdict else ""
        self._line(f"{self._prefix()} done{v} ({self.claim_batches} batches{cached}, {fmt_seconds(took)}); "
                   f"{self._eta_text(0.0, after=True)}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    # -- text ------------------------------------------------------------------------------------

    def _prefix(self) -> str:
        lead = f"{self.label} " if self.label else ""
        return f"{lead}[{self.k}/{self.n}] {self.claim}"

    def _eta_text(self, sweep_left: float, after: bool = False) -> str:
        """Elapsed and ETA; ``after``: the current claim has finished (it is no longer to come)."""
        now = self.clock()
        to_come = self.n - self.k            # claims not started yet
        if self.claim_times:
            mean = sum(self.claim_times) / len(self.claim_times)
            # the current claim's later sweep calls are unknown: at least the rest of this sweep,
            # else what a mean claim has left
            rest = 0.0 if after else max(sweep_left, mean - (now - self.claim_started))
            eta = f"ETA {fmt_seconds(rest + to_come * mean)}"
        elif to_come:
            eta = f"ETA {fmt_seconds(sweep_left)} + ? for {to_come} claim{'s' if to_come > 1 else ''}"
        else:
            eta = f"ETA {fmt_seconds(sweep_left)}"
        return f"elapsed {fmt_seconds(now - self.started)}, {eta}"

    def _line(self, text: str) -> None:
        print(_fit(text), file=self.stream, flush=True)


class BatchLog(list):
    """``Context.batches`` (the provenance log of batches, a list) carrying the progress hook
    ``on_batch(batch, info, finished, total)`` that ``verify.executors.run_batches`` calls as each
    batch finishes; it is shared by every copy of a Context (``dataclasses.replace(ctx, batches=ctx.batches)``
    in the sweeps and power), so the hook reaches every batch of the run."""

    def __init__(self, items=(), on_batch=None):
        super().__init__(items)
        self.on_batch = on_batch


def install(ctx, n_claims: int, label: str = "", stream: Optional[TextIO] = None) -> Progress:
    """A Progress for ``n_claims`` claims hooked into ``ctx`` (a tqdm line when ``ctx.progress``, which
    the CLI sets when stderr is a terminal; plain lines otherwise)."""
    stream = stream if stream is not None else sys.stderr
    progress = Progress(n_claims, tty=bool(ctx.progress), stream=stream, label=label)
    ctx.batches = BatchLog(ctx.batches, on_batch=progress)
    return progress
