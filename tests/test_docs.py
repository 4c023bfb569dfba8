"""The API reference site (mkdocs.yml, docs/) builds without a warning, with the public functions' docstrings in it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mkdocs_builds_strictly_with_the_api_docstrings(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    api = (site / "api" / "index.html").read_text()
    for name in ("largest_lyapunov", "delay_embed", "choose_dimension", "load_run", "correlation_dimension", "symbolic_code"):
        assert name in api, name
    assert "Rosenstein" in api and "Kennel" in api  # module docstrings with their sources
    assert (site / "many-channels" / "index.html").exists() and (site / "notebooks" / "index.html").exists()
