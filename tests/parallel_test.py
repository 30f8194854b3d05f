"""The suite's own parallel runner (tests/parallel.py): reports from the workers are shown as the
main process's, skips and failures included."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_skips_and_failures_from_workers_are_reported(tmp_path: Path) -> None:
    # Enough skips that a worker, not only the main process, reports some.
    (tmp_path / "some_test.py").write_text(
        "import pytest\n\n"
        + "".join(f"def test_skipped_{i}() -> None:\n    pytest.skip('a reason')\n\n" for i in range(20))
        + "import time\n\n"
        "def test_slow_start() -> None:\n    time.sleep(0.5)\n\n"
        "@pytest.mark.skipif(True, reason='marked')\ndef test_marked() -> None:\n    pass\n\n"
        "def test_passes() -> None:\n    pass\n\n"
        "def test_fails() -> None:\n    assert 1 == 2\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "tests.parallel", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, cwd=tmp_path, timeout=120,
        env={"PYTHONPATH": str(ROOT), "TOOL_TEST_WORKERS": "2", "PATH": "/usr/bin:/bin"},
    )
    out = proc.stdout.decode()
    assert proc.returncode == 1, out + proc.stderr.decode()
    assert "1 failed, 2 passed, 21 skipped" in out and "a reason" in out, out
    assert "Traceback" not in proc.stderr.decode()
