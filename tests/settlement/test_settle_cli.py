"""`citypoints settle` against the session node, with CITYPOINTS_HOME holding the deployment and the parties'
keystores: one period from close to confirmed payments and a dispute (the installed command in subprocesses, end to
end), and refusals with their codes (the same typer app in-process through typer's CliRunner: same exit codes and
output, without a process start per refusal)."""
from __future__ import annotations

import csv
import json
import os
import subprocess

from eth_utils import keccak
from typer.testing import CliRunner

from scripts.cli import app

from .conftest import PASSWORD, ROOT, S1, S2

CLI = str(ROOT / ".venv" / "bin" / "citypoints")


def settle(home, *args: str, ok: bool = True) -> tuple[int, dict, str]:
    """Run `citypoints settle ARGS --json`; (exit code, the JSON object on stdout, stderr)."""
    env = {**os.environ, "CITYPOINTS_HOME": str(home), "CITYPOINTS_KEYSTORE_PASSWORD": PASSWORD}
    proc = subprocess.run([CLI, "settle", *args, "--json"], env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def settle_in_process(home, *args: str) -> tuple[int, dict, str]:
    """`citypoints settle ARGS --json` through the console command's own typer app, in this process; (exit code,
    the JSON object on stdout, stderr)."""
    env = {"CITYPOINTS_HOME": str(home), "CITYPOINTS_KEYSTORE_PASSWORD": PASSWORD}
    done = CliRunner().invoke(app, ["settle", *args, "--json"], env=env)
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    return done.exit_code, json.loads(done.stdout), done.stderr


def test_settleCli_closesThePeriod_printsItsStatement_andSettlesIt(city, settle_home):
    home, m = settle_home, city.merchant.address
    r0, r1, r2 = city.residents
    city.redeem(r0, 6_000)
    city.refund(city.redeem(r1, 1_500), 500)
    city.exchange(r2, S1, S2, 100)
    _, closed, _ = settle(home, "close", "--as", "operator")
    p = closed["period"]
    assert closed["openPeriod"] == p + 1 == city.clearing.functions.openPeriod().call()

    _, out, _ = settle(home, "statement", str(p), "--csv", str(home / "period.csv"))
    assert out["check"]["agrees"] is True
    merchant = {x["scheme"]: x for x in out["merchantStatements"] if x["merchant"] == m}
    assert (merchant[S1]["grossRedeemed"], merchant[S1]["refunds"], merchant[S1]["netDecimal"]) == (6_500, 500,
                                                                                                     "60.00")
    issuer = next(x for x in out["issuerStatements"] if (x["schemeA"], x["schemeB"]) == (S1, S2))
    assert (issuer["net"], issuer["payer"]["scheme"]) == (1_000, S1)
    with open(home / "period.csv", newline="") as f:
        rows = {row["statementId"]: row for row in csv.DictReader(f)}
    assert rows[merchant[S1]["statementId"]]["net"] == "6000"
    assert rows[merchant[S1]["statementId"]]["payer"] == f"issuer of scheme {S1}"
    assert rows[issuer["statementId"]]["amountDecimal"] == "10.00"
    text = CliRunner().invoke(app, ["settle", "statement", str(p)], env={"CITYPOINTS_HOME": str(home)})
    assert text.exit_code == 0, text.output
    # the residents' side of the same credits: 650 points at 10 cents burned, 50 restored, no change left
    assert ("in residents' value: 650 points worth 65.00 redeemed, change left 0.00; 50 points worth 5.00 "
            "refunded, change 0.00") in text.stdout

    _, paid, _ = settle(home, "pay", str(p), "--scheme", str(S1), "--merchant", m, "--ref", "SEPA 0001",
                        "--as", "issuer1")
    assert paid["bankRefHash"] == "0x" + keccak(text="SEPA 0001").hex() and paid["amount"] == 6_000
    _, confirmed, _ = settle(home, "confirm", paid["statementId"], "--as", "shop")
    assert confirmed["settlement"] == "confirmed"
    _, issuer_paid, _ = settle(home, "pay", str(p), "--issuers", str(S2), str(S1), "--ref", "SEPA 0002",
                               "--as", "issuer1")
    assert issuer_paid["statementId"] == issuer["statementId"]
    _, disputed, _ = settle(home, "dispute", issuer["statementId"], "--reason", "not on our account",
                            "--as", "issuer2")
    assert disputed["reasonHash"] == "0x" + keccak(text="not on our account").hex()

    _, st, _ = settle(home, "status", str(p))
    assert {(a["statementId"], a["settlement"], a["from"]["name"]) for a in city.mine(st["awaiting"])} == {
        (merchant[S2]["statementId"], "open", f"issuer of scheme {S2}"),
        (issuer["statementId"], "disputed", f"issuer of scheme {S1}")}
    _, periods, _ = settle(home, "periods")
    row = next(x for x in periods["data"] if x["period"] == p)
    assert (row["state"], row["statements"], row["confirmed"], row["disputed"], row["open"]) == ("closed", 3, 1, 1, 1)
    assert periods["data"][-1] == {**periods["data"][-1], "period": p + 1, "state": "open"}


def test_settleCli_refusals_haveStableCodes_andSendNothing(city, settle_home, period):
    home, p, m = settle_home, period.period, city.merchant.address
    nonce = city.w3.eth.get_transaction_count(city.issuer2.address)
    code, out, err = settle_in_process(home, "pay", str(p), "--scheme", str(S1), "--merchant", m, "--ref", "x",
                                       "--as", "issuer2")
    assert (code, out["code"], out["contractError"]) == (1, "not_debtor", "ClearingNotDebtor")
    assert "not_debtor" in err
    code, out, _ = settle_in_process(home, "pay", str(p + 1), "--scheme", str(S1), "--merchant", m, "--ref", "x",
                                     "--as", "issuer1")
    assert (code, out["code"]) == (1, "period_not_closed")
    code, out, _ = settle_in_process(home, "pay", str(p), "--scheme", str(S1), "--merchant", "0xnotanaddress",
                                     "--ref", "x", "--as", "issuer1")
    assert (code, out["code"]) == (2, "invalid_address")
    code, out, _ = settle_in_process(home, "confirm", "0x1234", "--as", "shop")
    assert (code, out["code"]) == (2, "invalid_statement_id")
    code, out, _ = settle_in_process(home, "close", "--as", "nobody")
    assert (code, out["code"]) == (2, "keystore_not_found")
    code, out, _ = settle_in_process(home, "statement", str(p + 1))
    assert (code, out["code"]) == (1, "period_not_closed")
    assert city.w3.eth.get_transaction_count(city.issuer2.address) == nonce
    assert city.clearing.functions.openPeriod().call() == p + 1
