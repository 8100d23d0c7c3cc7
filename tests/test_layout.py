"""The three rooms of ibcore and the one-way import rule: book → claims → measures and core."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "ibcore"


def _room(path: Path) -> str:
    rel = path.relative_to(PKG).parts
    return rel[0] if len(rel) > 1 else "core"


def _imports(path: Path) -> list[str]:
    """Every ibcore module ``path`` imports, at top level or inside functions."""
    tree = ast.parse(path.read_text())
    pkg = "ibcore." + ".".join(path.relative_to(PKG).parts[:-1])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.startswith("ibcore")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = pkg.rstrip(".").rsplit(".", node.level - 1)[0]
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            if mod.startswith("ibcore"):
                out.append(mod)
                out += [f"{mod}.{a.name}" for a in node.names]  # from ibcore import book
    return out


FORBIDDEN = {
    # a measure is a pure function over arrays, tensors and modules
    "measures": ("ibcore.train", "ibcore.data", "ibcore.runs", "ibcore.parallel",
                 "ibcore.cache", "ibcore.claims", "ibcore.book"),
    "core": ("ibcore.claims", "ibcore.book"),
    "claims": ("ibcore.book",),
    "book": (),
}  # fmt: skip

MODULES = sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def violations(path: Path) -> list[str]:
    room = _room(path)
    return [
        m for m in _imports(path) for bad in FORBIDDEN[room] if m == bad or m.startswith(bad + ".")
    ]


def test_the_three_rooms_exist():
    assert {p.name for p in (PKG / "measures").glob("*.py")} >= {
        "information.py", "batch_entropy.py", "singularities.py", "zxzy.py", "exact.py"
    }  # fmt: skip
    assert sorted(p.stem for p in (PKG / "claims").glob("ch*.py")) == [
        "ch0_information_plane", "ch1_skip_singularities", "ch2_adaptive_estimators",
        "ch3_batch_entropy", "ch4_identity_shortcuts", "ch5_exact_quantized",
    ]  # fmt: skip
    assert {p.stem for p in (PKG / "book").glob("*.py")} >= {
        "pipeline", "sweep", "student", "exercises", "widgets", "provenance"
    }  # fmt: skip
    assert not (PKG / "io.py").exists(), "a module named like the standard library"


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PKG)) for p in MODULES])
def test_imports_run_one_way(path):
    assert violations(path) == [], (
        f"{path.relative_to(PKG)} ({_room(path)}) imports {violations(path)}"
    )


def test_the_rule_catches_a_violation(tmp_path, monkeypatch):
    fake = tmp_path / "ibcore"
    (fake / "measures").mkdir(parents=True)
    (fake / "claims").mkdir()
    bad_measure = fake / "measures" / "m.py"
    bad_measure.write_text("def f():\n    from ibcore.train import train\n    return train\n")
    bad_claim = fake / "claims" / "c.py"
    bad_claim.write_text("from ibcore.book import widgets\n")
    bad_core = fake / "x.py"
    bad_core.write_text("from ibcore import book\n")
    fine = fake / "claims" / "ok.py"
    fine.write_text("from ibcore.measures.information import compression\nimport ibcore.train\n")
    monkeypatch.setattr(__import__(__name__), "PKG", fake)
    assert violations(bad_measure) == ["ibcore.train", "ibcore.train.train"]
    assert violations(bad_claim) == ["ibcore.book", "ibcore.book.widgets"]
    assert violations(bad_core) == ["ibcore.book"]
    assert violations(fine) == []
