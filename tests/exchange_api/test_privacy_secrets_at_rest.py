"""Secrets at rest: the SQLite database, its write-ahead log and the API's log are readable by their owner only
(0600 in a 0700 folder, tightened when an earlier version left them 0644/0755), and `citypoints serve` without
secrets refuses to start, naming the variables to set (dev_secrets is off by default)."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from exchange_api.cli import open_private_log
from exchange_api.settings import Settings
from exchange_api.store.db import Store

ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask():
    """The usual umask (0022): what the store and the log create must not depend on the caller's."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_sqliteStore_isCreatedOwnerOnly_walIncluded(tmp_path, usual_umask):
    path = tmp_path / "var" / "api" / "citypoints.db"
    store = Store(f"sqlite:///{path}")
    try:
        store.migrate()
        store.call(lambda s: s.execute(text("INSERT INTO merchants (address, name, created_at) "
                                            "VALUES ('0x01', 'shop', CURRENT_TIMESTAMP)")))
        wal = path.with_name(path.name + "-wal")
        assert wal.exists()
        assert mode(path.parent) == 0o700 and mode(path) == 0o600 and mode(wal) == 0o600
    finally:
        store.dispose()


def test_sqliteStore_leftWorldReadableByAnEarlierVersion_isTightened(tmp_path):
    path = tmp_path / "citypoints.db"
    path.touch()
    os.chmod(path, 0o644)
    store = Store(f"sqlite:///{path}")
    try:
        store.migrate()
        assert mode(path) == 0o600
    finally:
        store.dispose()


def test_apiLog_isOwnerOnly(tmp_path, usual_umask):
    log = tmp_path / "var" / "api" / "api.log"
    with open_private_log(log) as out:
        out.write(b"started\n")
    assert mode(log) == 0o600 and mode(log.parent) == 0o700
    os.chmod(log, 0o644)
    os.chmod(log.parent, 0o755)
    with open_private_log(log) as out:
        out.write(b"again\n")
    assert mode(log) == 0o600 and mode(log.parent) == 0o700 and log.read_bytes() == b"started\nagain\n"


def test_serve_withoutSecrets_refusesToStartAndSaysWhatToSet(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYPOINTS_")}
    env.update(CITYPOINTS_HOME=str(tmp_path), PYTHONPATH=str(ROOT), COLUMNS="300")
    done = subprocess.run([sys.executable, "-c", "from scripts.cli import app; app()", "serve"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    for name in ("CITYPOINTS_PII_KEY", "CITYPOINTS_IDENTITY_HMAC_KEY", "CITYPOINTS_RELAYER_KEYS",
                 "CITYPOINTS_DEV_SECRETS=true"):
        assert name in done.stderr, done.stderr
    assert not (tmp_path / "var" / "api" / "citypoints.db").exists()  # nothing was started or created


def test_devSecrets_isOffByDefault_andTheStoreCommandsDoNotNeedSecrets(monkeypatch):
    for k in list(os.environ):
        if k.startswith("CITYPOINTS_"):
            monkeypatch.delenv(k)
    settings = Settings()
    assert settings.dev_secrets is False
    assert settings.missing_secrets() == ["CITYPOINTS_PII_KEY", "CITYPOINTS_IDENTITY_HMAC_KEY",
                                          "CITYPOINTS_RELAYER_KEYS"]
    assert Settings(dev_secrets=True).missing_secrets() == []
