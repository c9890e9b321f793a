"""`make test` runs everything CI runs, including the PostgreSQL store tests (issue 14, defect 4)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_starts_postgresql_when_no_url_is_given() -> None:
    # Regression: `make test` ran plain pytest, so the 22 postgres tests skipped unless a URL was set.
    env = {k: v for k, v in os.environ.items() if k != "BROKERSCALE_TEST_POSTGRES_URL"}
    plan = subprocess.run(["make", "-n", "test"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    recipe = plan.stdout[plan.stdout.index("BROKERSCALE_PG_DIR"):]
    assert "bash scripts/start-postgres.sh" in recipe
    assert 'BROKERSCALE_TEST_POSTGRES_URL="$url"' in recipe and "-m pytest" in recipe
    assert "will SKIP" in recipe  # and it says so when PostgreSQL cannot be had
    assert "start-postgres.sh --stop" in recipe


def test_the_script_make_test_uses_starts_a_postgresql_that_answers() -> None:
    # (a directory the postgres OS user can reach: pytest's tmp_path is private to root)
    pgdir = Path(tempfile.gettempdir()) / f"brokerscale-pg-test-{os.getpid()}"
    env = {**os.environ, "BROKERSCALE_PG_DIR": str(pgdir)}
    res = subprocess.run(["bash", "scripts/start-postgres.sh"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    url = res.stdout.strip()
    if not url:
        pytest.skip(f"PostgreSQL is neither installed nor installable here: {res.stderr.strip()}")
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT 1")).scalar() == 1
        engine.dispose()
    finally:
        subprocess.run(["bash", "scripts/start-postgres.sh", "--stop"], cwd=ROOT, env=env, capture_output=True,
                       timeout=120)
    assert not pgdir.exists()
