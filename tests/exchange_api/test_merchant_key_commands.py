"""`citypoints merchant create-key|list` and staff scopes: the operator makes a manager's key unless told, a
cashier's with `--scope cashier`, refuses another scope (exit 2, nothing made), and the list names each key's
scope, never the key."""
from __future__ import annotations

import json

from eth_account import Account
from typer.testing import CliRunner

from exchange_api.cli import merchant_app


def test_createKey_scopes_andTheListNamesThem(tmp_path, monkeypatch):
    monkeypatch.setenv("CITYPOINTS_DATABASE_URL", f"sqlite:///{tmp_path / 'api.db'}")
    runner = CliRunner()
    shop = Account.create().address
    manager = runner.invoke(merchant_app, ["create-key", shop, "--name", "Owner"])
    cashier = runner.invoke(merchant_app, ["create-key", shop, "--name", "Till 2", "--scope", "cashier"])
    refused = runner.invoke(merchant_app, ["create-key", shop, "--name", "Boss", "--scope", "owner"])
    assert manager.exit_code == 0 and "merchant, manager" in manager.output
    assert cashier.exit_code == 0 and "merchant, cashier" in cashier.output
    assert refused.exit_code == 2 and "scope must be one of cashier, manager" in refused.output
    listed = runner.invoke(merchant_app, ["list", "--json"])
    keys = json.loads(listed.output)
    assert sorted((k["name"], k["scope"]) for k in keys) == [("Owner", "manager"), ("Till 2", "cashier")]
    secret = cashier.output.strip().splitlines()[-1]
    assert secret.startswith("cpk_") and secret not in listed.output
