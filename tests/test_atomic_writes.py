"""Results files are written atomically (``verify.results.atomic_write``): to a temporary file beside
the target, then renamed over it. A writer that fails or is killed midway leaves the earlier file
intact and no temporary behind; the tests make the writer fail after half a file."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from verify import check, power
from verify.cache import BatchCache
from verify.results import COLUMNS, atomic_write, atomic_write_text, write_results


class Killed(BaseException):
    """What a kill looks like to the writer: not an Exception, so nothing on the way catches it."""


def half_then_fail(path) -> None:
    """A writer that gets half a file onto disk, then dies."""
    Path(path).write_bytes(b"half a fi")
    raise Killed


def frame_half_then_fail(frame, path, *args, **kwargs) -> None:
    """DataFrame.to_parquet / to_csv, dying after half a file."""
    half_then_fail(path)


@pytest.fixture
def failing_writers(monkeypatch):
    """Every way the project writes a results file dies after half a file."""
    for name in ("to_parquet", "to_csv"):
        monkeypatch.setattr(pd.DataFrame, name, frame_half_then_fail)
    original = Path.write_text
    monkeypatch.setattr(Path, "write_text",
                        lambda self, *a, **k: half_then_fail(self) if self.name.startswith(".tmp-")
                        else original(self, *a, **k))


def only(directory: Path) -> dict[str, bytes]:
    """The files in a directory with their contents (temporaries included)."""
    return {p.name: p.read_bytes() for p in Path(directory).iterdir() if p.is_file()}


def test_atomic_write_replaces_the_file_through_a_temporary_beside_it(tmp_path):
    seen = []
    target = tmp_path / "results.parquet"
    target.write_text("old")

    def write(tmp: Path):
        seen.append(tmp)
        assert not tmp.exists() and target.read_text() == "old"
        tmp.write_text("new")
    assert atomic_write(target, write) == target
    assert target.read_text() == "new" and only(tmp_path) == {"results.parquet": b"new"}
    assert seen[0].parent == tmp_path and seen[0].suffix == ".parquet" and seen[0] != target


@pytest.mark.parametrize("error", [Killed, OSError])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, error):
    target = tmp_path / "verdicts.json"
    target.write_text("old")

    def write(tmp: Path):
        tmp.write_bytes(b"half")
        raise error
    with pytest.raises(error):
        atomic_write(target, write)
    assert only(tmp_path) == {"verdicts.json": b"old"}
    with pytest.raises(error):
        atomic_write(tmp_path / "new.json", write)
    assert only(tmp_path) == {"verdicts.json": b"old"}


def test_atomic_write_text_is_utf8(tmp_path):
    path = atomic_write_text(tmp_path / "report.md", "size ≤ 5%\n")
    assert path.read_bytes() == "size ≤ 5%\n".encode("utf-8")


def test_results_tables_verdicts_and_provenance_survive_a_failed_rewrite(tmp_path, failing_writers):
    old = {name: name.encode() for name in ("results.parquet", "verdicts.json", "provenance.json")}
    for name, content in old.items():
        (tmp_path / name).write_bytes(content)
    with pytest.raises(Killed):
        write_results(tmp_path, pd.DataFrame(columns=COLUMNS), [], {})
    assert only(tmp_path) == old


def test_power_files_survive_a_failed_rewrite(tmp_path, failing_writers):
    (tmp_path / "power.parquet").write_bytes(b"old")
    with pytest.raises(Killed):
        power.write(tmp_path, pd.DataFrame({"a": [1]}), pd.DataFrame({"a": [1]}), {}, {})
    committed = tmp_path / "power.json"
    committed.write_text('{"quick": {}}')
    with pytest.raises(Killed):
        power.record("quick", "python -m verify power --quick --record", 20, 8, {"c": {}}, path=committed)
    assert only(tmp_path) == {"power.parquet": b"old", "power.json": b'{"quick": {}}'}


def test_baseline_survives_a_failed_update(tmp_path, failing_writers):
    path = tmp_path / "baseline.json"
    path.write_text('{"claims": {}}')
    with pytest.raises(Killed):
        check.save(path, {"c": {"verdict": "holds", "expected": "holds", "numbers": {}}})
    assert only(tmp_path) == {"baseline.json": b'{"claims": {}}'}


def test_report_pages_survive_a_failed_rebuild(tmp_path, failing_writers):
    from reports import build_report
    (tmp_path / "verdicts.json").write_text(json.dumps({"claims": []}))
    (tmp_path / "report.html").write_text("old")
    with pytest.warns(UserWarning, match="figures skipped"), pytest.raises(Killed):
        build_report(tmp_path)
    assert only(tmp_path) == {"verdicts.json": b'{"claims": []}', "report.html": b"old"}


def test_a_failed_cache_write_is_no_cached_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(pd.DataFrame, "to_parquet", frame_half_then_fail)
    cache = BatchCache(tmp_path)
    with pytest.raises(Killed):
        cache.save("k", pd.DataFrame({"a": [1]}), {"n": 1})
    assert cache.load("k") is None
    assert sorted(only(tmp_path)) == ["k.json"]
