"""smx's modules form no import cycle: each layer imports only the ones below it."""

from __future__ import annotations

from pathlib import Path

from helpers.import_graph import cycles

SRC = Path(__file__).resolve().parents[2] / "src" / "smx"


def test_no_module_of_smx_imports_itself_around_a_loop() -> None:
    assert cycles(SRC) == []


def test_the_check_finds_a_cycle_through_a_function_level_import(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..c import g\n")
    (pkg / "c.py").write_text("from . import a\n")
    (pkg / "d.py").write_text("from typing import TYPE_CHECKING\n"
                              "if TYPE_CHECKING:\n    from pkg import a\n")
    (pkg / "e.py").write_text("from pkg import d\n")
    assert cycles(pkg) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
