"""The README's example runs as printed, and its two backends agree."""
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_runs(capsys):
    code = re.search(r"## A ten-line example\n\n```python\n(.*?)```", README.read_text(), re.S).group(1)
    scope: dict = {}
    exec(compile(code, "README example", "exec"), scope)
    p, ref, eng = scope["p"], scope["ref"], scope["eng"]
    ref_gap = p.f(ref["x"][-1]) - p.f_star
    assert abs(ref_gap - eng.final["f_gap"][0]) <= 1e-12 * max(1.0, abs(ref_gap))
    assert capsys.readouterr().out.count("\n") == 2


def test_readme_two_setup_commands_match_ci():
    text = README.read_text()
    block = re.search(r"## Set-up: two commands\n\n```bash\n(.*?)```", text, re.S).group(1).strip().splitlines()
    assert len(block) == 2
    assert "python -m verify rates --algo adasam" in block[0]
    assert block[1].split("#")[0].strip() == 'pip install torch==2.13.0 -e ".[test]" && python -m pytest'
    ci = (README.parent / ".ci" / "run").read_text()
    assert 'pip install -q torch==2.13.0 -e ".[test]"' in ci and "python3 -m pytest" in ci


def test_readme_own_theorem_example_is_the_example_file_and_runs(tmp_path, capsys):
    from verify.cli import main
    text = README.read_text()
    section = re.search(r"## Check your own theorem\n(.*?)\n## ", text, re.S).group(1)
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert code in (README.parent / "examples" / "my_theorem.py").read_text()
    command = re.search(r"```bash\n(python -m verify rates [^\n#]*?)\s*#", section).group(1).split()[3:]
    assert main([*command, "--out", str(tmp_path / "run"), "--no-report"]) == 0
    verdicts = json.loads((tmp_path / "run" / "verdicts.json").read_text())["claims"]
    assert [(v["claim"], v["verdict"]) for v in verdicts] == [("my.thm3_5", "holds")]


def test_readme_conform_example_runs_as_printed(tmp_path):
    """The "Check your own optimizer" command, run from the repository root as printed (exit 0)."""
    block = re.search(r"## Check your own optimizer\n.*?```bash\n(.*?)```", README.read_text(), re.S).group(1)
    argv = shlex.split(block.strip())
    assert argv[:3] == ["python", "-m", "verify"] and "conform" in argv
    done = subprocess.run([sys.executable, *argv[1:], "--out", str(tmp_path / "out")], cwd=README.parent,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "CONFORMS (default convention)" in done.stdout
    assert (tmp_path / "out" / "conform.json").exists()


def test_readme_claim_on_a_user_optimizer_runs_as_printed(tmp_path):
    """The "--algo MODULE:NAME --as ALGO" command of "Check your own optimizer", run from the repository root
    as printed: exit 0, the verdict its comment states, and the built-in algorithm's verdict for the same claim
    and seed (about 25 s: the functional step runs through vmap)."""
    from verify.cli import main
    section = re.search(r"## Check your own optimizer\n(.*?)\n## ", README.read_text(), re.S).group(1)
    line, comment = re.search(r"```bash\n(python -m verify rates [^\n#]*?)\s*#([^\n]*)\n```", section).groups()
    argv = shlex.split(line)
    done = subprocess.run([sys.executable, *argv[1:], "--out", str(tmp_path / "user")], cwd=README.parent,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    algo = argv.index("--algo")
    assert "run with " + " as ".join((argv[algo + 1], argv[algo + 3])) in done.stdout
    assert f"note: {argv[algo + 1]}: vmap" in done.stdout   # batched, as the README says
    builtin = argv[3:algo] + argv[algo + 4:]   # the same claim and seed, the built-in algorithm
    assert main([*builtin, "--out", str(tmp_path / "builtin"), "--no-report"]) == 0
    user, want = ([(v["claim"], v["verdict"]) for v in json.loads((tmp_path / run / "verdicts.json").read_text())
                   ["claims"]] for run in ("user", "builtin"))
    assert user == want and user[0][1] in comment


# ---------------------------------------------------------------------------------------------- doc citations
# The spec files the code used to cite were never part of the repository; the names are built from
# pieces so that this file does not cite them itself.
_SPEC_NAMES = tuple(n + ".md" for n in ("ALGORITHMS", "CLAIMS", "DESIGN")) + ("shared" + "/spec", "../" + "shared")
_DOC_CITE = re.compile(r"docs/([A-Za-z0-9_]+\.md)(?:#([A-Za-z0-9_\-]+))?")
_MD_LINK = re.compile(r"\]\(((?:[A-Za-z0-9_]+\.md)?)#([A-Za-z0-9_\-]+)\)")


def _tracked_sources() -> list[Path]:
    """Tracked .py and .md files (git ls-files), or every such file outside build folders without git."""
    root = README.parent
    try:
        out = subprocess.run(["git", "ls-files", "*.py", "*.md"], cwd=root, capture_output=True, text=True,
                             timeout=10, check=True).stdout.split()
        return [root / p for p in out if (root / p).is_file()]
    except (OSError, subprocess.SubprocessError):
        skip = {".git", "build", "results", ".venv"}
        return [p for p in root.rglob("*") if p.suffix in (".py", ".md") and not skip & set(p.parts)
                and "egg-info" not in str(p)]


def _anchors(md: Path) -> set[str]:
    """GitHub-style heading anchors of a Markdown file: lowercase, punctuation dropped, spaces to '-'."""
    out, fenced = set(), False
    for line in md.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        m = None if fenced else re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            out.add(re.sub(r"[^a-z0-9 _\-]", "", m.group(1).lower()).replace(" ", "-"))
    return out


def test_no_citation_of_files_outside_the_repository():
    bad = [f"{p.relative_to(README.parent)}:{i}: {name}" for p in _tracked_sources()
           for i, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
           for name in _SPEC_NAMES if name in line]
    assert not bad, "cite docs/*.md instead:\n" + "\n".join(bad)


def test_every_cited_docs_anchor_exists():
    docs = README.parent / "docs"
    anchors = {p.name: _anchors(p) for p in docs.glob("*.md")}
    bad = []
    for p in _tracked_sources():
        text = p.read_text(encoding="utf-8", errors="replace")
        for doc, anchor in _DOC_CITE.findall(text):
            if doc not in anchors or (anchor and anchor not in anchors[doc]):
                bad.append(f"{p.relative_to(README.parent)}: docs/{doc}#{anchor}")
        if p.parent == docs:   # links between the docs pages: (other.md#anchor) and (#anchor)
            for doc, anchor in _MD_LINK.findall(text):
                if anchor not in anchors.get(doc or p.name, ()):
                    bad.append(f"{p.relative_to(README.parent)}: {doc or p.name}#{anchor}")
    assert not bad, "missing heading anchors:\n" + "\n".join(bad)
    for doc in ("algorithms.md", "claims.md", "results.md", "engine.md"):
        assert doc in anchors
