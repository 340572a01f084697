"""Claim-level wall times: what a user waits for, per claim, for each `verify` command.

Runs ``python -m verify rates --claim ID`` (quick or ``--full``) and ``python -m verify power --claim ID``
(quick or ``--full``, ``--repeats K``) as a user would, one subprocess per (command, claim), with the
batch cache off (``--no-cache``) so that every run computes everything, and times each from start to exit
(interpreter start, imports, compilation, the sweep, the verdicts and the files it writes). The load
average before each run is recorded next to its time: a figure taken on a busy machine says so.
The power file's own record (``wall_s`` of each claim in verify/power.json, written by ``power --record``)
is shown beside the measured power times when present, for the grid the command ran on.

    python benchmarks/claims.py                                   # rates --quick and power --quick, every claim
    python benchmarks/claims.py --what rates-full --claim unified.thm3_2_bound
    python benchmarks/claims.py --what power-quick --repeats 5 --out /tmp/claims.json

Writes a JSON file (``--out``: a .json path, or a directory that gets claims.json) and prints a Markdown
table, one row per claim, one column per command, and a total row (sum over claims: one subprocess per
claim, so it includes each start-up; the all-claims command starts once).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COMMANDS = {
    "rates-quick": ["rates", "--quick", "--no-report"],
    "rates-full": ["rates", "--full", "--no-report"],
    "power-quick": ["power", "--quick"],
    "power-full": ["power", "--full"],
}


def claim_ids() -> list[str]:
    """Every built-in claim id, in the registry's order."""
    from verify.registry import all_claims
    return list(all_claims())


def time_command(what: str, claim: str, repeats: int, threads: int) -> dict:
    """Run one ``verify`` command on one claim in a fresh interpreter; its wall time in seconds, exit
    code and the 1-minute load average before it started."""
    args = [*COMMANDS[what], "--claim", claim, "--threads", str(threads), "--no-cache"]
    if what.startswith("power"):
        args += ["--repeats", str(repeats)]
    with tempfile.TemporaryDirectory() as tmp:
        load = os.getloadavg()[0]
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "verify", *args, "--out", str(Path(tmp) / "out")],
                              cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - started
    return {"command": what, "claim": claim, "wall_s": round(wall, 2), "rc": proc.returncode,
            "load_before": round(load, 2), "args": args,
            "error": proc.stderr.strip().splitlines()[-1] if proc.returncode and proc.stderr.strip() else None}


def recorded_power(grid: str) -> dict[str, float]:
    """{claim: wall_s} of the committed power file's measurement on ``grid`` (claims without one left out)."""
    from verify.power import load_power_file
    claims = load_power_file().get(grid, {}).get("claims", {})
    return {cid: c["wall_s"] for cid, c in claims.items() if c.get("wall_s") is not None}


def markdown(rows: list[dict], whats: list[str], claims: list[str]) -> str:
    """One row per claim, one column per command (seconds), a total row, and the power file's record."""
    recorded = {w: recorded_power(w.split("-")[1]) for w in whats if w.startswith("power")}
    cols = [c for w in whats for c in ([w] + ([f"{w} (power.json)"] if recorded.get(w) else []))]
    cell = {(r["command"], r["claim"]): r for r in rows}
    lines = ["| claim | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    total = {c: 0.0 for c in cols}
    for cid in claims:
        out = []
        for c in cols:
            if c.endswith("(power.json)"):
                v = recorded[c.split(" ")[0]].get(cid)
            else:
                r = cell[(c, cid)]
                v = r["wall_s"] if r["rc"] == 0 else None
            total[c] += v or 0.0
            out.append("failed" if v is None and not c.endswith(")") else ("-" if v is None else f"{v:.0f} s"))
        lines.append(f"| {cid} | " + " | ".join(out) + " |")
    lines.append("| total | " + " | ".join(f"{total[c] / 60:.1f} min" for c in cols) + " |")
    return "\n".join(lines)


def out_path(arg: str) -> Path:
    """--out as a file (.json) or a directory (claims.json inside it)."""
    p = Path(arg)
    return p / "claims.json" if p.is_dir() or arg.endswith("/") or not p.suffix else p


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--what", nargs="+", default=["rates-quick", "power-quick"], choices=list(COMMANDS),
                    help="the commands to time (default: rates-quick power-quick)")
    ap.add_argument("--claim", nargs="+", default=None, help="claim ids (default: every built-in claim)")
    ap.add_argument("--repeats", type=int, default=20, help="power's --repeats (default 20)")
    ap.add_argument("--threads", type=int, default=1, help="verify's --threads (default 1, as verify runs)")
    ap.add_argument("--out", default="benchmarks/results/claims.json", help="a .json file or a directory")
    args = ap.parse_args(argv)
    known = claim_ids()
    claims = args.claim or known
    bad = [c for c in claims if c not in known]
    if bad:
        print(f"error: --claim {bad[0]!r} is not a claim; choose from {', '.join(known)}", file=sys.stderr)
        return 2
    if args.repeats < 1:
        print(f"error: --repeats {args.repeats}: must be >= 1", file=sys.stderr)
        return 2
    rows = []
    for what in args.what:
        for cid in claims:
            rows.append(time_command(what, cid, args.repeats, args.threads))
            r = rows[-1]
            print(f"{what} {cid}: {r['wall_s']:.1f} s (rc {r['rc']}, load {r['load_before']})", file=sys.stderr, flush=True)
    out = out_path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from verify.results import atomic_write_text
    atomic_write_text(out, json.dumps({"rows": rows, "repeats": args.repeats, "threads": args.threads,
                                       "cpu_count": os.cpu_count(), "python": sys.version.split()[0]}, indent=1) + "\n")
    print(markdown(rows, args.what, claims))
    print(f"wrote {out}")
    return 0 if all(r["rc"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
