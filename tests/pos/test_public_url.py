"""The public base URL: what the links and QR codes the API makes point at. Serving on an address other machines
reach while those links name a loopback address (a phone that scans the till's QR code could not open it) is
refused at start, with a message naming CITYPOINTS_PUBLIC_URL, and nothing is started."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from exchange_api.settings import Settings

from .conftest import API

ROOT = Path(__file__).resolve().parents[2]


def serve(tmp_path, *args: str, public_url: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYPOINTS_")}
    env.update(CITYPOINTS_DEV_SECRETS="true", CITYPOINTS_HOME=str(tmp_path),
               CITYPOINTS_DATABASE_URL=f"sqlite:///{tmp_path / 'api.db'}")
    if public_url is not None:
        env["CITYPOINTS_PUBLIC_URL"] = public_url
    return subprocess.run([sys.executable, "-m", "scripts.cli", "serve", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("public_url", [None, "http://127.0.0.1:8000", "http://localhost:8000"])
def test_serve_onAnOpenAddress_withALoopbackPublicUrl_refusesNamingTheSetting(tmp_path, public_url):
    port = str(API._free_port())
    done = serve(tmp_path, "--host", "0.0.0.0", "--port", port, public_url=public_url)
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2, said
    assert "not starting" in said and "CITYPOINTS_PUBLIC_URL" in said and "0.0.0.0" in said
    assert not (tmp_path / "api.db").exists()  # refused before anything was made


def test_publicUrl_isWhatLinksNameWhenServingOnAnOpenAddress():
    assert Settings(host="0.0.0.0", public_url="https://pay.example.city").public_url_problem() is None
    assert Settings(host="127.0.0.1").public_url_problem() is None  # loopback only: this machine's own use
    assert Settings(host="192.168.1.5").base_url == "http://192.168.1.5:8000"
    assert Settings(host="192.168.1.5").public_url_problem() is None
    assert "CITYPOINTS_PUBLIC_URL" in Settings(host="::", public_url="http://[::1]:8000").public_url_problem()
