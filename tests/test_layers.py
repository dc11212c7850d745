"""The package's import graph has no cycle and no import from a lower layer into a higher one
(scripts/check_imports.py, over ast: nothing is imported to check)."""

import subprocess
import sys

from tutor.config import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "check_imports.py"


def _check(root) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(root)], capture_output=True, text=True)


def test_tutor_has_no_import_cycle_and_no_layer_break():
    result = _check(REPO_ROOT / "tutor")
    assert result.returncode == 0, result.stdout
    assert " 0 cycles, 0 layer breaks" in result.stdout


def test_the_check_finds_a_cycle_and_a_layer_break(tmp_path):
    package = tmp_path / "tutor"
    (package / "text").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "text" / "__init__.py").write_text("")
    (package / "text" / "a.py").write_text("def f():\n    from tutor.text import b\n")
    (package / "text" / "b.py").write_text("from tutor.text.a import f\nfrom tutor.runtime import x\n")
    (package / "runtime.py").write_text("x = 1\n")
    result = _check(package)
    assert result.returncode == 1
    assert "cycle: tutor.text.a <-> tutor.text.b" in result.stdout
    assert "layer: tutor.text.b imports tutor.runtime" in result.stdout
