"""The runbook's backup and restore (deploy/backup, deploy/restore), done for real: a
database with demo data and an audit chain, and a ciphertext store, backed up, restored
into an empty database and store, and found the same, with the chain verifying.

Needs PostgreSQL (deploy/backup uses pg_dump): run in the PostgreSQL run of the suite,
on databases of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
SERVER = "postgres://postgres@127.0.0.1:5432"
SOURCE, TARGET = "exchange_backup_source", "exchange_backup_target"

pytestmark = [pytest.mark.production, pytest.mark.django_db]


def _recreate(*names: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        for name in names:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))  # fmt: skip
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop(*names: str) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        for name in names:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))  # fmt: skip


@pytest.fixture
def databases() -> Iterator[None]:
    if connection.vendor != "postgresql":
        pytest.skip("pg_dump needs PostgreSQL: the PostgreSQL run of the suite (make test)")
    _recreate(SOURCE, TARGET)
    yield
    _drop(SOURCE, TARGET)


def environment(database: str, media: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "exchange.settings",
        "EXCHANGE_DEBUG": "1",  # seed_demo runs only in DEBUG
        "DATABASE_URL": f"{SERVER}/{database}",
        "EXCHANGE_MEDIA_ROOT": str(media),
        "EXCHANGE_PYTHON": sys.executable,
        "REDIS_URL": "",
    }


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def facts(database: str) -> tuple[int, int, int]:
    with psycopg.connect(f"{SERVER}/{database}") as db:
        counts = [
            db.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[
                0
            ]  # type: ignore[index]
            for table in ("channels_app_message", "audit_auditevent", "permissions_user")
        ]
    return counts[0], counts[1], counts[2]


def test_a_backup_restores_into_an_empty_database_and_store_the_same(
    databases: None, tmp_path: Path
) -> None:
    source_media, target_media = tmp_path / "media", tmp_path / "restored-media"
    source = environment(SOURCE, source_media)
    for step in (["migrate", "--noinput"], ["seed_demo"]):
        assert run([sys.executable, "manage.py", *step], source).returncode == 0
    ciphertext = os.urandom(300_000)
    (source_media / "attachments" / "1").mkdir(parents=True)
    (source_media / "attachments" / "1" / "a.age").write_bytes(ciphertext)
    before = facts(SOURCE)
    chain = run([sys.executable, "manage.py", "verify_audit"], source)
    assert chain.returncode == 0, chain.stderr

    backed_up = run(["bash", "deploy/backup", str(tmp_path / "backups")], source)
    assert backed_up.returncode == 0, backed_up.stderr
    backup = Path(backed_up.stdout.strip())
    assert sorted(path.name for path in backup.iterdir()) == [
        "SHA256SUMS", "database.dump", "media.tar"]  # fmt: skip
    assert oct(backup.stat().st_mode & 0o777) == "0o700"

    target = environment(TARGET, target_media)
    restored = run(["bash", "deploy/restore", str(backup)], target)
    assert restored.returncode == 0, restored.stderr + restored.stdout
    assert facts(TARGET) == before
    assert (target_media / "attachments" / "1" / "a.age").read_bytes() == ciphertext
    # The restored chain verifies to the same head.
    again = run([sys.executable, "manage.py", "verify_audit"], target)
    assert again.returncode == 0 and again.stdout == chain.stdout

    # A second restore over the restored data is refused, and so is a tampered backup.
    refused = run(["bash", "deploy/restore", str(backup)], target)
    assert refused.returncode == 1
    assert "restore into an empty one" in refused.stderr
    with (backup / "media.tar").open("r+b") as tampered:
        tampered.seek(1024)
        tampered.write(b"\xff")
    refused = run(["bash", "deploy/restore", str(backup)], target)
    assert refused.returncode == 1
    assert "fails its checksums" in refused.stderr
