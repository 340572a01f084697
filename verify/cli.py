"""python -m verify: list | rates | power | report | check | conform."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import pandas as pd
import torch

from .claim import Context
from .registry import all_claims, claims_for, user_claims
from .results import atomic_write_text, provenance, write_results


class UsageError(Exception):
    """Bad input: printed as one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (argparse prints the whole usage first), exit code 2."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m verify", description="Check SAM convergence theorems numerically.")
    sub = p.add_subparsers(dest="cmd", required=True)
    _claims_from_option(sub.add_parser("list", help="claims, algorithms and problems with their status"))
    r = sub.add_parser("rates", help="run claims and print verdicts")
    _selection_options(r)
    _run_options(r)
    r.add_argument("--strict", action="store_true", help="exit 1 when a verdict differs from the expected one")
    r.add_argument("--no-report", action="store_true", help="skip figures and the report page")
    pw = sub.add_parser("power", help="size and power of each claim's verdict over independent repeats")
    _selection_options(pw)
    pw.add_argument("--repeats", type=int, default=20, help="independent repeats of every claim and counterfeit "
                    "(blocks of --seeds seeds; default 20)")
    _run_options(pw)
    pw.add_argument("--record", action="store_true",
                    help="also merge the per-claim summary into the committed verify/power.json")
    ck = sub.add_parser("check", help="CI gate: quick grid of every claim against the stored baseline")
    ck.add_argument("--baseline", help="baseline JSON (default: verify/baseline.json)")
    ck.add_argument("--update-baseline", action="store_true", help="rewrite the baseline and print the diff")
    ck.add_argument("--seed", type=int, default=0, help="global seed (default 0)")
    ck.add_argument("--seeds", type=int, default=8, help="repetitions per grid point (default 8)")
    ck.add_argument("--claim", help="only this claim id")
    _threads_option(ck)
    ck.add_argument("--decisive-only", action="store_true",
                    help="verdict changes count only between holds and violated (not to/from inconclusive)")
    cf = sub.add_parser("conform", help="check your own optimizer against an algorithm's reference (MODULE:NAME --as ALGO)")
    cf.add_argument("target", help="MODULE:NAME of a torch.optim.Optimizer class (first_step/second_step or "
                    "step(closure)) or of a function step(x, grad_fn, state, hp) -> (x, state)")
    cf.add_argument("--as", dest="as_algo", required=True, help="the registered algorithm it implements (e.g. sam)")
    cf.add_argument("--hp", default="", help="hyperparameters k=v,... (the algorithm's names, e.g. rho=0.05,lr=0.1)")
    cf.add_argument("--strict", action="store_true", help="only the default convention counts (exit 1 otherwise)")
    cf.add_argument("--out", help="output directory (default: a new results/<timestamp>/)")
    cf.add_argument("--overwrite", action="store_true", help="replace an earlier conformance report in --out")
    rp = sub.add_parser("report", help="rebuild figures and the report page from a results directory")
    rp.add_argument("dir")
    rp.add_argument("--style", default="default", choices=["default", "paper"])
    return p


def _selection_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--algo", help="only claims involving this algorithm (default: every claim)")
    p.add_argument("--claim", help="only this claim id")
    _claims_from_option(p)
    p.add_argument("--as", dest="as_algo", metavar="ALGO",
                   help="with --algo MODULE:NAME: the built-in algorithm your optimizer implements; ALGO's claims "
                        "then run with your optimizer in its place")


def _claims_from_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--claims-from", action="append", metavar="MODULE",
                   help="run the claims declared in this importable module (verify.api.rate_claim) instead of the "
                        "built-in ones; repeatable")


def _run_options(p: argparse.ArgumentParser) -> None:
    """Grid, seeds, device, output, memory, executor and cache options shared by rates and power."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="the quick grid (default)")
    g.add_argument("--full", action="store_true", help="the full grid (paper figures, minutes)")
    p.add_argument("--seeds", type=int, default=8, help="repetitions per grid point (>= 2, default 8)")
    p.add_argument("--seed", type=int, default=0, help="global seed (default 0)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.add_argument("--out", help="output directory (default: a new results/<timestamp>/)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier run's outputs in --out (the batch cache is kept and reused)")
    p.add_argument("--max-memory", type=float, default=2e9, help="bytes per engine batch (default 2e9)")
    _threads_option(p)
    p.add_argument("--executor", default="local", choices=["local", "dask", "slurm"],
                   help="where the grid's batches run: local (default, in-process), dask (a LocalCluster of "
                        "--workers processes, or --scheduler ADDRESS), slurm (submitit); dask/slurm need "
                        "pip install -e \".[distributed]\"")
    p.add_argument("--workers", type=int, help="dask LocalCluster processes (default: one per CPU); "
                   "slurm: array tasks running at once")
    p.add_argument("--scheduler", help="address of an existing dask scheduler (with --executor dask)")
    cg = p.add_mutually_exclusive_group()
    cg.add_argument("--cache", help="cache of finished batches, reused on rerun "
                    "(default: OUT/.cache with --out, else results/.cache)")
    cg.add_argument("--no-cache", action="store_true", help="neither read nor write the batch cache")


def _threads_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads while claims run on the CPU (default 1; verdicts must not depend on it)")
    p.add_argument("--eager", action="store_true",
                   help="run the engine step by step in Python instead of its compiled loop (same samples, "
                        "agrees to round-off; slower, no compilation)")


# what a rates or power run writes into its directory (the batch cache .cache/ is kept: it is keyed by inputs)
OUTPUTS = ("results.parquet", "results.csv", "verdicts.json", "provenance.json", "report.html", "report.md",
           "verdicts.tex", "verdict_table.csv", "figures", "figures-paper", "report-paper.html", "report-paper.md", "power.parquet", "power_summary.csv",
           "power.json", "power.md", "power.png", "power.pdf",
           "conform.json", "conform.md", "conform.png")


def _check_out(out: str | None, overwrite: bool = False) -> Path:
    """The output directory: a new results/<timestamp>[-k]/ (unique even for runs started in the same
    second), or --out, which must not hold an earlier run's outputs unless ``overwrite`` (then they are
    removed first, so no file of the earlier run stays beside the new ones)."""
    if out is None:
        stem = Path("results") / time.strftime("%Y%m%d-%H%M%S")
        for k in range(1, 1000):
            path = stem if k == 1 else stem.with_name(f"{stem.name}-{k}")
            try:
                path.mkdir(parents=True, exist_ok=False)
                return path
            except FileExistsError:
                continue
            except OSError as e:
                raise UsageError(f"--out {path}: cannot create the directory ({e.strerror})") from None
        raise UsageError(f"--out: 999 result directories named {stem}* exist already")
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--out {path}: cannot create the directory ({e.strerror})") from None
    if not os.access(path, os.W_OK):
        raise UsageError(f"--out {path}: the directory is not writable")
    earlier = [name for name in OUTPUTS if (path / name).exists()]
    if earlier and not overwrite:
        raise UsageError(f"--out {path} holds an earlier run ({', '.join(earlier[:3])}): "
                         "pass --overwrite to replace it, or choose another directory")
    for name in earlier:
        target = path / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    return path


def _check_writable(path: Path, flag: str) -> None:
    """Refuse a file that could not be written (a directory in its place, its directory missing or
    read-only) before minutes of claims run to fill it: a trial file is made beside it and removed."""
    if path.is_dir():
        raise UsageError(f"{flag} {path}: is a directory, not a file")
    try:
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as e:
        raise UsageError(f"{flag} {path}: cannot be written ({e.strerror})") from None


def _context(args) -> Context:
    if args.seeds < 2:
        raise UsageError(f"--seeds {args.seeds}: at least 2 seeds are needed for confidence intervals")
    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        raise UsageError(f"--device {args.device}: must be cpu or cuda")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {args.device}: CUDA is not available on this machine (torch.cuda.is_available() is False)")
    if args.threads < 1:
        raise UsageError(f"--threads {args.threads}: must be >= 1")
    if not (0 < args.max_memory < float("inf")):
        raise UsageError(f"--max-memory {args.max_memory}: must be a finite number of bytes > 0")
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    executor = getattr(args, "executor", "local")
    if getattr(args, "workers", None) is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: must be >= 1")
    if getattr(args, "workers", None) is not None and executor == "local":
        raise UsageError(f"--workers {args.workers}: the local executor runs one batch at a time; "
                         "use --executor dask or slurm")
    if getattr(args, "scheduler", None) and executor != "dask":
        raise UsageError("--scheduler needs --executor dask")
    if executor != "local":
        from .executors import MissingExtra, require
        try:
            require(executor)
        except MissingExtra as e:
            raise UsageError(str(e)) from None
    return Context(quick=not args.full, seeds=args.seeds, device=args.device, dtype=dtype, seed=args.seed,
                   max_memory=args.max_memory, progress=sys.stderr.isatty(), executor=executor,
                   workers=getattr(args, "workers", None), scheduler=getattr(args, "scheduler", None),
                   threads=args.threads, compile=not args.eager)


def _cache_dir(args) -> str | None:
    if getattr(args, "no_cache", False):
        return None
    path = Path(args.cache) if getattr(args, "cache", None) else (
        Path(args.out) / ".cache" if args.out else Path("results") / ".cache")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--cache {path}: cannot create the directory ({e.strerror})") from None
    return str(path)


TABLE_WIDTH = 100  # the printed verdict table fits a 100-column terminal


def headline(v: dict) -> str:
    """The verdict's headline number with its 95% CI, named by the gated number it equals
    (``slope_lam1 -1.03 [-1.08, -0.97]``); '' when the verdict has no estimate."""
    from reports.tables import fmt_ci
    est = v.get("estimate")
    text = fmt_ci(est, v.get("ci_low"), v.get("ci_high"))
    if not text:
        return ""
    name = "estimate"
    for key, n in (v.get("numbers") or {}).items():
        val = n.get("value") if isinstance(n, dict) else None
        if isinstance(val, (int, float)) and isinstance(est, (int, float)) and abs(val - est) <= 1e-12 * max(1.0, abs(est)):
            name = key
            break
    return f"{name} {text}"


def _verdict_cell(v: dict) -> str:
    verdict, expected = str(v.get("verdict") or "inconclusive"), str(v.get("expected") or "holds")
    mark = "!" if verdict != expected and verdict != "inconclusive" else ""
    return verdict + mark + (" (ctl)" if expected == "violated" else "")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 2)] + ".."


def verdict_table(verdicts: list[dict], width: int = TABLE_WIDTH) -> str:
    """The printed verdict table, one line per claim, every line at most ``width`` characters:
    claim, status, verdict, headline number with its CI. The predictions, measurements, reasons and
    per-point detail are in the report (report.md / report.html) and in verdicts.json."""
    heads = ("claim", "status", "verdict", "headline number [95% CI]")
    rows = [(str(v.get("claim")), str(v.get("status") or ""), _verdict_cell(v), headline(v)) for v in verdicts]
    wc = min(32, max([len(heads[0])] + [len(r[0]) for r in rows]))
    ws = min(13, max([len(heads[1])] + [len(r[1]) for r in rows]))
    wv = min(18, max([len(heads[2])] + [len(r[2]) for r in rows]))
    wh = max(10, width - wc - ws - wv - 6)

    def line(c, s, vd, hl):
        if len(hl) > wh:  # keep the number and its CI, shorten the name
            name, _, num = hl.partition(" ")
            hl = _clip(name, wh - len(num) - 1) + " " + num if len(num) <= wh - 4 else _clip(hl, wh)
        return f"{_clip(c, wc):<{wc}}  {_clip(s, ws):<{ws}}  {_clip(vd, wv):<{wv}}  {_clip(hl, wh)}".rstrip()

    lines = [line(*heads), "-" * min(width, wc + ws + wv + wh + 6)]
    for v, r in zip(verdicts, rows):
        lines.append(line(*r))
        if v.get("implementation"):
            lines.append(_clip(f"{'':{wc}}  run with {v['implementation']} (a user optimizer in place of the built-in)",
                               width))
    notes = []
    if any(r[2].endswith("(ctl)") for r in rows):
        notes.append("(ctl): negative control, expected violated")
    if any("!" in r[2] for r in rows):
        notes.append("!: differs from the expected verdict")
    if notes:
        lines.append(_clip("; ".join(notes), width))
    return "\n".join(lines)


def report_paths(written: dict, out: Path) -> dict:
    """What ``reports.build_report`` wrote, as {label: path} for ``print_paths`` (figures: the directory
    and how many files)."""
    figures = [p for ps in (written.get("figures") or {}).values() for p in ps]
    fig_dir = Path(figures[0]).parent if figures else Path(written.get("figures_dir") or Path(out) / "figures")
    return {"report (Markdown)": written["markdown"], "report (HTML)": written["html"],
            "LaTeX table": written["latex"], "verdict table CSV": written["table_csv"],
            "figures": f"{fig_dir}{os.sep} ({len(figures)} files)"}


def print_paths(paths: dict) -> None:
    """The files a command wrote, one ``label: path`` line each, plain paths (no reprs)."""
    print("wrote:")
    width = max(len(k) for k in paths) + 1
    for k, v in paths.items():
        print(f"  {k + ':':<{width}} {v}")


def _size_power(m: dict | None) -> str:
    """``size/worst power`` of one committed measurement, "-" when there is none."""
    if not m or m.get("worst_power") is None:
        return "-"
    return f"{m['size']:.2f}/{m['worst_power']:.2f}"


def cmd_list(args) -> int:
    from optim import ALGORITHMS
    from problems import PROBLEMS
    from .power import load_power_file
    try:
        users = user_claims(args.claims_from or ())
    except ValueError as e:
        raise UsageError(str(e)) from None
    measured = load_power_file()
    grids = {g: measured.get(g, {}) for g in ("quick", "full")}
    print("claims (size / worst power in the committed power file: "
          + ", ".join(f"{g} grid {e.get('repeats', '-')} repeats" for g, e in grids.items()) + ";\n"
          "        refresh with python -m verify power --quick|--full --record):")
    for c in [*all_claims().values(), *users.values()]:
        rates = "  ".join(f"{g} {_size_power(e.get('claims', {}).get(c.id))}" for g, e in grids.items())
        print(f"  {c.id:26s} {c.status:13s} expected {c.expected:8s} {len(c.counterfeits)} counterfeits  {rates}")
    print("algorithms:")
    for a in sorted(ALGORITHMS.values(), key=lambda a: a.name):
        print(f"  {a.name:14s} {a.status:13s} {a.title}")
    print("problems:")
    print("  " + ", ".join(PROBLEMS))
    return 0


def run_claims(claims, ctx: Context) -> tuple[pd.DataFrame, list[dict]]:
    """Run each claim's sweep and judge it; returns all rows and the verdicts."""
    from .power import error_rates
    from .progress import install
    frames, verdicts = [], []
    progress = install(ctx, len(claims))  # a tqdm line on a terminal, one line per finished batch elsewhere
    for claim in claims:
        progress.start_claim(claim.id)
        try:
            rows = claim.execute(ctx)
        except BaseException:
            progress.close()
            raise
        frames.append(rows)
        mine = {f"{spec} as {a}" for a, spec in ctx.implementations.items() if a in claim.algorithms}
        verdicts.append({**claim.verdict(rows), "error_rates": error_rates(claim.id, "quick" if ctx.quick else "full"),
                         **({"implementation": ", ".join(sorted(mine))} if mine else {})})
        progress.end_claim(verdicts[-1]["verdict"])
    progress.close()
    return pd.concat(frames, ignore_index=True), verdicts


def _implementations(args) -> dict:
    """{ALGO: MODULE:NAME} for ``--algo MODULE:NAME --as ALGO`` (a user's optimizer in ALGO's claims), else {}."""
    spec, as_algo = args.algo, getattr(args, "as_algo", None)
    if spec is None or ":" not in spec:
        if as_algo is not None:
            raise UsageError(f"--as {as_algo} needs --algo MODULE:NAME (the optimizer that stands in for {as_algo})")
        return {}
    if as_algo is None:
        raise UsageError(f"--algo {spec} is a user optimizer: say which algorithm it implements with --as ALGO")
    from .user_rule import load
    try:
        load(spec)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return {as_algo: spec}


def _selected_claims(args) -> list:
    """The claims --algo / --claim select; an empty list (after saying why) when none matches."""
    from optim import get
    algo = next(iter(_implementations(args)), args.algo)
    if algo is not None:
        try:
            get(algo)
        except ValueError as e:
            raise UsageError(str(e)) from None
    modules = args.claims_from or ()
    try:
        claims = claims_for(algo, args.claim, modules)
        known = {**all_claims(), **user_claims(modules)}
    except ValueError as e:
        raise UsageError(str(e)) from None
    if not claims and args.claim is not None:
        raise UsageError(f"--claim {args.claim} does not involve --algo {algo} "
                         f"(its algorithms: {', '.join(known[args.claim].algorithms)})")
    if not claims:
        print(f"algorithm {algo!r} has no claim in the registry: nothing to verify "
              f"(claims exist for {', '.join(sorted({a for c in all_claims().values() for a in c.algorithms}))})")
    return claims


def cmd_rates(args, argv) -> int:
    started = time.time()
    ctx = _context(args)
    claims = _selected_claims(args)
    if not claims:
        return 0
    ctx.implementations = _implementations(args)
    out = _check_out(args.out, args.overwrite)
    ctx.cache_dir = args.cache_used = _cache_dir(args)
    from .executors import close_all, get_executor
    try:
        executor = get_executor(ctx).describe()
        rows, verdicts = run_claims(claims, ctx)
    finally:
        close_all()
    prov = provenance(ctx, ["python -m verify", *argv], started, [c.id for c in claims])
    prov.update({"executor": executor, "cache_dir": ctx.cache_dir, "batches": ctx.batches})
    paths = write_results(out, rows, verdicts, prov)
    print(verdict_table(verdicts))
    for note in sorted({b["implementation"] for b in ctx.batches if b.get("implementation")}):
        print(f"note: {note}")
    wrote = {"results table": paths["results"], "verdicts": paths["verdicts"], "provenance": paths["provenance"]}
    if not args.no_report:
        from reports import build_report
        wrote.update(report_paths(build_report(out), out))
    print("\nreasons, predictions and per-point detail: " + ("report.md / report.html" if not args.no_report
                                                          else "verdicts.json (--no-report: no report written)"))
    print_paths(wrote)
    if args.strict and any(v["verdict"] != v["expected"] for v in verdicts):
        return 1
    return 0


def cmd_power(args, argv) -> int:
    from . import power
    started = time.time()
    ctx = _context(args)
    if args.repeats < 1:
        raise UsageError(f"--repeats {args.repeats}: must be >= 1")
    if args.record:
        _check_writable(power.POWER_FILE, "--record")
    claims = _selected_claims(args)
    if not claims:
        return 0
    ctx.implementations = _implementations(args)
    if args.record and ctx.implementations:
        raise UsageError("--record stores the built-in algorithms' error rates: not with a user optimizer (--algo MODULE:NAME)")
    out = _check_out(args.out, args.overwrite)
    ctx.cache_dir = args.cache_used = _cache_dir(args)
    grid = "quick" if ctx.quick else "full"
    from .executors import close_all, get_executor
    tables, wall = [], {}
    from .progress import install
    progress = install(ctx, len(claims), label="power")
    try:
        executor = get_executor(ctx).describe()
        for claim in claims:
            def done(name, n, cid=claim.id):
                print(f"{cid}: {name} judged on {n} repeats ({time.time() - started:.0f} s)", file=sys.stderr, flush=True)
            progress.start_claim(claim.id)
            claim_started = time.time()
            tables.append(power.measure(claim, ctx, args.repeats, on_done=done))
            wall[claim.id] = round(time.time() - claim_started, 1)
            progress.end_claim()
    finally:
        progress.close()
        close_all()
    table = pd.concat(tables, ignore_index=True)
    summary = power.summarize(table)
    per_claim = power.claim_summary(summary)
    prov = provenance(ctx, ["python -m verify", *argv], started, [c.id for c in claims])
    prov.update({"executor": executor, "cache_dir": ctx.cache_dir, "repeats": args.repeats,
                 "batches": ctx.batches})
    paths = power.write(out, table, summary, per_claim, prov)
    from reports.power import power_figure, power_markdown
    paths["figure"] = power_figure(summary, out / "power")[1]
    paths["markdown"] = atomic_write_text(out / "power.md", power_markdown(summary, per_claim, args.repeats, grid))
    print(power.summary_table(summary))
    print_paths(paths)
    if args.record:
        power.record(grid, "python -m verify " + " ".join(argv), args.repeats, ctx.seeds, per_claim, wall_s=wall)
        print(f"recorded: {power.POWER_FILE}")
    return 0


def cmd_report(args) -> int:
    d = Path(args.dir)
    if not d.is_dir():
        raise UsageError(f"report {d}: {'not a directory' if d.exists() else 'no such directory'}")
    from reports import build_report, load_results
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # build_report loads the files again and warns then, once
            load_results(d)
    except FileNotFoundError:
        raise UsageError(f"report {d}: no results.parquet, results.csv or verdicts.json in it "
                         "(a directory written by python -m verify rates)") from None
    except (OSError, ValueError, TypeError) as e:
        first = str(e).splitlines()[0][:120] if str(e) else ""
        raise UsageError(f"report {d}: its results files cannot be read ({type(e).__name__}: {first})") from None
    with warnings.catch_warnings(record=True) as caught:  # each shown as one line, before any error
        try:
            written = build_report(d, style=args.style)
        except OSError as e:
            raise UsageError(f"report {d}: cannot write {e.filename or 'the report'} ({e.strerror or e})") from None
        finally:
            for w in caught:
                print(f"warning: {w.message}", file=sys.stderr)
    from reports.tables import provenance_summary
    print("provenance:")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shown once above
        prov = load_results(d)[2]
    for k, x in provenance_summary(prov):
        print(f"  {k + ':':<17} {x}")
    for claim, message in written.get("errors", {}).items():
        print(f"figure failed: {claim}: {message}", file=sys.stderr)
    print_paths(report_paths(written, d))
    return 0


def cmd_conform(args) -> int:
    from .conform import conform
    from .conform_cli import load_target, parse_hp
    from .conform_report import summary, write
    try:
        obj = load_target(args.target)
        hp = parse_hp(args.as_algo, args.hp)
        out = _check_out(args.out, args.overwrite)
        rep = conform(obj, args.as_algo, hp, strict=args.strict)
    except ValueError as e:
        raise UsageError(str(e)) from None
    paths = write(out, rep)
    print(summary(rep))
    print("\n".join(f"{k}: {v}" for k, v in paths.items()))
    return 0 if rep["conforms"] else 1


def check_summary(current: dict) -> str:
    """The gate's closing table: per claim its verdict and gated numbers with their CIs, wrapped at 100
    columns (continuation lines indented under the numbers)."""
    out = []
    for cid, v in current.items():
        nums = ", ".join(f"{k} {n['value']:.3g} [{n['ci_low']:.3g}, {n['ci_high']:.3g}]" for k, n in v["numbers"].items())
        out.append(textwrap.fill(nums or "-", width=100, initial_indent=f"{cid:26s} {v['verdict']:12s} ",
                                 subsequent_indent=" " * 40, break_on_hyphens=False, break_long_words=False))
    return "\n".join(out)


def cmd_check(args) -> int:
    from . import check
    path = Path(args.baseline) if args.baseline else check.BASELINE
    if args.seeds < 2:
        raise UsageError(f"--seeds {args.seeds}: at least 2 seeds are needed for confidence intervals")
    try:
        claims = claims_for(None, args.claim)
    except ValueError as e:
        raise UsageError(str(e)) from None
    try:  # read (and for an update, writable) before the claims run, not after
        baseline = check.load(path) if path.exists() or not args.update_baseline else {}
    except (FileNotFoundError, check.BadBaseline) as e:
        raise UsageError(str(e) + (": fix or delete it first" if args.update_baseline else "")) from None
    if args.update_baseline:
        _check_writable(path, "--baseline")
    if args.threads < 1:
        raise UsageError(f"--threads {args.threads}: must be >= 1")
    ctx = Context(quick=True, seeds=args.seeds, seed=args.seed, progress=sys.stderr.isatty(), threads=args.threads,
                  compile=not args.eager)
    _, verdicts = run_claims(claims, ctx)
    current = check.snapshot(verdicts)
    if args.update_baseline:
        old = baseline
        if args.claim:
            current = {**old, **current}
        check.save(path, current)
        lines = check.drift(old, current) if old else [f"new baseline with {len(current)} claims"]
        print("\n".join(lines) if lines else "baseline unchanged (every CI overlaps, every verdict equal)")
        print(f"wrote {path}")
        return 0
    if args.claim:
        baseline = {k: v for k, v in baseline.items() if k in current}
    from .power import verdict_gated
    gated = {cid for cid in baseline if verdict_gated(cid)}
    numbers_only = sorted(set(baseline) - gated)
    if numbers_only:
        print(textwrap.fill("numbers only (quick-grid verdict not reliable enough to gate, see verify/power.json): "
                            + ", ".join(numbers_only), width=100, subsequent_indent="  ", break_on_hyphens=False))
    lines = check.drift(baseline, current, decisive_only=args.decisive_only, verdict_claims=gated)
    if lines:
        print("\n".join(lines))
        return 1
    print(check_summary(current))
    print(f"no drift: {len(current)} claims match {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "list":
            return cmd_list(args)
        if args.cmd == "rates":
            return cmd_rates(args, argv)
        if args.cmd == "check":
            return cmd_check(args)
        if args.cmd == "power":
            return cmd_power(args, argv)
        if args.cmd == "conform":
            return cmd_conform(args)
        return cmd_report(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        cache = getattr(args, "cache_used", None)
        saved = (f"finished batches are cached in {cache}; `python -m verify {' '.join(argv)}` resumes from them"
                 if cache else "nothing was saved")
        print(f"interrupted: {saved}", file=sys.stderr)
        return 130
