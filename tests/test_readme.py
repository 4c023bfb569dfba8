"""The README's two commands stay true: CI runs its test command, its sample data exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)[:2]


def test_ci_runs_the_readme_test_command() -> None:
    main_job, tests = _commands()
    test_command = tests.split("&&")[-1].strip()
    assert test_command.startswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in [line.strip() for line in ci]


def test_main_job_uses_existing_sample_data() -> None:
    main_job, _ = _commands()
    stores = re.findall(r"data/\S+\.zarr", main_job)
    assert stores, main_job
    for store in stores:
        assert (ROOT / store / "zarr.json").exists(), store
