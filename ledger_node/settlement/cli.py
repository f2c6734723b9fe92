"""`citypoints settle`: close a clearing period, read its statement, record and answer its payments.

    citypoints settle close --as operator
    citypoints settle statement 1 --csv period-1.csv
    citypoints settle pay 1 --scheme 2 --merchant 0xMerchant --ref "SEPA 2026-12-05 0042" --as traffic-office
    citypoints settle confirm 0xSTATEMENT --keystore shop.json
    citypoints settle status

Every command prints one JSON object with --json. A refusal prints `error: CODE: message` on stderr (and the error
object on stdout with --json) and exits non-zero: 2 for a bad argument, key or deployment (nothing sent), 1 when the
ledger refused (its code from ledger_node.contract_errors) or the node could not be reached, 3 when a statement's
positions and its period's events disagree.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional, Tuple

import typer
from rich.console import Console
from rich.markup import escape

from ledger_node import paths
from ledger_node.domain import UINT256_MAX
from ledger_node.settlement.errors import MISMATCH, USAGE, SettlementError, usage
from ledger_node.member_keys import KeystoreError, load_account_at_terminal

# web3 and the modules that read and send (ledger, payments, periods, statement) are imported inside the commands:
# importing them here made every `citypoints` start, even `--help`, pay ~300 ms.

app = typer.Typer(help="Settle clearing periods: close, statements, payments, confirmations, disputes.",
                  no_args_is_help=True, add_completion=False)
err = Console(stderr=True)

JSON_OPT = typer.Option(False, "--json", help="Print one JSON object.")
RPC_OPT = typer.Option(None, "--rpc", help="JSON-RPC URL (default: the deployment's).")
KEYSTORE_OPT = typer.Option(None, "--keystore", dir_okay=False,
                            help="Encrypted eth-account keystore of the signing account; password from "
                                 "CITYPOINTS_KEYSTORE_PASSWORD, else asked.")
AS_OPT = typer.Option(None, "--as", help="Sign with the member keystore var/keys/members/NAME.json.")


@app.command("periods")
def periods_cmd(as_json: bool = JSON_OPT, rpc: Optional[str] = RPC_OPT):
    """Each period: open or closed, when it closed, its statements and how many are paid, confirmed, disputed."""
    def human(out: dict) -> None:
        for p in out["data"]:
            when = f"closed {p['closedAtIso']}" if p["state"] == "closed" else "open"
            print(f"period {p['period']:>3}  {when:<32} {p['statements']:>3} statements  open {p['open']}  "
                  f"paid {p['paid']}  confirmed {p['confirmed']}  disputed {p['disputed']}")

    from ledger_node.settlement import periods

    _run(as_json, lambda: periods.list_periods(_ledger(rpc)), human)


@app.command("close")
def close_cmd(keystore: Optional[Path] = KEYSTORE_OPT, as_name: Optional[str] = AS_OPT, as_json: bool = JSON_OPT,
              rpc: Optional[str] = RPC_OPT):
    """Close the open period (an account with OPERATOR_ROLE): its statements are fixed from now on."""
    from ledger_node.settlement import payments

    def act() -> dict:
        signer = _signer(keystore, as_name)
        return payments.close_period(_ledger(rpc), signer)

    _run(as_json, act, lambda out: print(f"period {out['period']} closed at {out['closedAtIso']} "
                                         f"(block {out['block']}, tx {out['txHash']}); period {out['openPeriod']} "
                                         f"is open"))


@app.command("statement")
def statement_cmd(period: int = typer.Argument(..., help="A closed period."),
                  csv_file: Optional[Path] = typer.Option(None, "--csv", dir_okay=False,
                                                          help="Also write one CSV row per statement to FILE."),
                  as_json: bool = JSON_OPT, rpc: Optional[str] = RPC_OPT):
    """A closed period's statement: Clearing's positions, checked against the period's events (exit 3 if not)."""
    from ledger_node.settlement.statement import Statement, period_statement

    holder: list[Statement] = []

    def act() -> dict:
        st = period_statement(_ledger(rpc), period)
        holder.append(st)
        if csv_file is not None:
            try:
                paths.replace_atomically(csv_file, st.write_csv)
            except OSError as exc:
                raise usage("csv_unwritable", f"cannot write {csv_file}: {exc.strerror or exc}") from None
        return st.as_dict()

    _run(as_json, act, lambda out: _print_statement(out, csv_file))
    st = holder[0]
    if not st.agrees:
        _fail(SettlementError("statement_mismatch", f"period {period}: Clearing's positions and the period's events "
                                                    f"disagree ({len(st.disagreements)}): "
                                                    + "; ".join(st.disagreements), exit_code=MISMATCH),
              as_json=False)


@app.command("pay")
def pay_cmd(period: int = typer.Argument(..., help="The closed period of the statement."),
            scheme: Optional[int] = typer.Option(None, "--scheme", help="Merchant statement: the scheme."),
            merchant: Optional[str] = typer.Option(None, "--merchant", help="Merchant statement: the merchant."),
            issuers: Optional[Tuple[int, int]] = typer.Option(None, "--issuers",
                                                              help="Issuer statement: the two schemes."),
            ref: str = typer.Option(..., "--ref", help="The bank transfer's reference; only its keccak256 goes on "
                                                        "chain."),
            keystore: Optional[Path] = KEYSTORE_OPT, as_name: Optional[str] = AS_OPT, as_json: bool = JSON_OPT,
            rpc: Optional[str] = RPC_OPT):
    """Record the debtor's bank payment of a statement: `--scheme S --merchant ADDR` or `--issuers A B`."""
    from ledger_node.settlement import payments

    def act() -> dict:
        pair = [x for x in issuers or () if x is not None]
        _period(period)
        payments.reference_hash(ref)
        if pair and (scheme is not None or merchant is not None):
            raise usage("invalid_statement", "give --scheme and --merchant, or --issuers, not both")
        if pair:
            a, b = (_scheme(x) for x in pair)
            if a == b:
                raise usage("same_scheme", "an issuer pair must name two different schemes")
            signer = _signer(keystore, as_name)
            return payments.pay_issuers(_ledger(rpc), signer, period, a, b, ref)
        if scheme is None or merchant is None:
            raise usage("invalid_statement", "name the statement: --scheme S --merchant ADDR, or --issuers A B")
        s, m = _scheme(scheme), _address(merchant)
        signer = _signer(keystore, as_name)
        return payments.pay_merchant(_ledger(rpc), signer, period, s, m, ref)

    _run(as_json, act, lambda out: print(
        f"payment of statement {out['statementId']} recorded: {out['amountDecimal']} credits, bank reference hash "
        f"{out['bankRefHash']} (tx {out['txHash']}); the creditor confirms or disputes it"))


@app.command("confirm")
def confirm_cmd(statement_id: str = typer.Argument(..., help="The statement id (0x...)."),
                keystore: Optional[Path] = KEYSTORE_OPT, as_name: Optional[str] = AS_OPT, as_json: bool = JSON_OPT,
                rpc: Optional[str] = RPC_OPT):
    """The creditor confirms the recorded payment: the statement is settled."""
    from ledger_node.settlement import payments

    def act() -> dict:
        payments.parse_statement_id(statement_id)
        signer = _signer(keystore, as_name)
        return payments.confirm(_ledger(rpc), signer, statement_id)

    _run(as_json, act, lambda out: print(f"statement {out['statementId']} confirmed: {out['amountDecimal']} credits "
                                         f"settled (tx {out['txHash']})"))


@app.command("dispute")
def dispute_cmd(statement_id: str = typer.Argument(..., help="The statement id (0x...)."),
                reason: str = typer.Option(..., "--reason", help="Why; only its keccak256 goes on chain."),
                keystore: Optional[Path] = KEYSTORE_OPT, as_name: Optional[str] = AS_OPT, as_json: bool = JSON_OPT,
                rpc: Optional[str] = RPC_OPT):
    """The creditor disputes the recorded payment; the debtor may then record a payment again."""
    from ledger_node.settlement import payments

    def act() -> dict:
        payments.parse_statement_id(statement_id)
        payments.reference_hash(reason)
        signer = _signer(keystore, as_name)
        return payments.dispute(_ledger(rpc), signer, statement_id, reason)

    _run(as_json, act, lambda out: print(f"statement {out['statementId']} disputed, reason hash {out['reasonHash']} "
                                         f"(tx {out['txHash']}); the debtor may pay again"))


@app.command("status")
def status_cmd(period: Optional[int] = typer.Argument(None, help="One period (default: every period)."),
               as_json: bool = JSON_OPT, rpc: Optional[str] = RPC_OPT):
    """What is still awaited, from whom: payments, confirmations, closing the open period."""
    def human(out: dict) -> None:
        for p in out["periods"]:
            if p["state"] == "open":
                print(f"period {p['period']} is open: {p['next']}")
            else:
                print(f"period {p['period']}: {p['settled']} of {p['statements']} statements settled")
        for a in out["awaiting"]:
            print(f"  {a['statementId']} period {a['period']}: {a['amountDecimal']} credits, {a['settlement']}: "
                  f"awaiting {a['awaiting']} from the {a['from']['name']}\n      {a['command']}")
        if not out["awaiting"]:
            print("no statement of a closed period awaits anything")

    from ledger_node.settlement import periods

    _run(as_json, lambda: periods.status(_ledger(rpc), period), human)


# --- helpers ---------------------------------------------------------------------------------------------------

def _run(as_json: bool, action: Callable[[], dict], human: Callable[[dict], None]) -> None:
    try:
        out = action()
    except (SettlementError, KeystoreError) as exc:
        _fail(exc if isinstance(exc, SettlementError) else SettlementError(exc.code, exc.message, exit_code=USAGE),
              as_json)
    if as_json:
        print(json.dumps(out))
    else:
        human(out)


def _fail(exc: SettlementError, as_json: bool) -> None:
    if as_json:
        print(json.dumps(exc.as_dict()))
    err.print(f"[red]error:[/red] {escape(exc.code)}: {escape(exc.message)}", soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def _ledger(rpc: str | None):
    from ledger_node.settlement.ledger import ClearingLedger

    return ClearingLedger.from_deployment(rpc)


def _signer(keystore: Path | None, as_name: str | None):
    return load_account_at_terminal(keystore, as_name)


def _period(period: int) -> int:
    if period < 1:
        raise usage("unknown_period", f"periods start at 1, not {period}")
    return period


def _scheme(scheme: int) -> int:
    if not 0 <= scheme <= UINT256_MAX:
        raise usage("invalid_scheme", f"a scheme id is a uint256, not {scheme}")
    return scheme


def _address(text: str) -> str:
    from web3 import Web3

    if not Web3.is_address(text):
        raise usage("invalid_address", f"{text!r} is not an account address")
    if text != text.lower() and text[2:] != text[2:].upper() and not Web3.is_checksum_address(text):
        raise usage("invalid_address", f"{text} has a wrong checksum (mixed case that is not EIP-55)")
    return Web3.to_checksum_address(text)


def _print_statement(out: dict, csv_file: Path | None) -> None:
    print(f"period {out['period']} closed {out['closedAtIso']} by {out['closedBy']} (blocks {out['blocks']['from']}-"
          f"{out['blocks']['closedIn']}, read at block {out['blocks']['asOf']})")
    if out["merchantStatements"]:
        print("merchant statements (issuer and merchant)")
    for x in out["merchantStatements"]:
        print(f"  scheme {x['scheme']}  {x['merchant']}: {x['redemptions']} redemptions {x['grossRedeemedDecimal']}, "
              f"{x['refundCount']} refunds {x['refundsDecimal']}, net {x['netDecimal']}: {_who(x)}  "
              f"[{x['settlement']}] {x['statementId']}")
    if out["issuerStatements"]:
        print("issuer statements (exchanges between schemes)")
    for x in out["issuerStatements"]:
        print(f"  schemes {x['schemeA']} and {x['schemeB']}: {x['exchanges']} exchanges, {x['schemeA']} into "
              f"{x['schemeB']} {x['aToBDecimal']}, back {x['bToADecimal']}: {_who(x)}  [{x['settlement']}] "
              f"{x['statementId']}")
    for s in out["schemes"]:
        print(f"scheme {s['scheme']}: redeemed {s['grossRedeemedDecimal']}, refunds {s['refundsDecimal']}, owes "
              f"merchants {s['owedToMerchantsDecimal']}, exchanged out {s['exchangedOutDecimal']}, in "
              f"{s['exchangedInDecimal']}, net {s['netDecimal']}")
        print(f"  in residents' value: {s['redeemedPoints']} points worth {s['redeemedValueDecimal']} redeemed, "
              f"change left {s['redemptionChangeDecimal']}; {s['refundedPoints']} points worth "
              f"{s['refundedValueDecimal']} refunded, change {s['refundChangeDecimal']}")
    events = ", ".join(f"{name} {n}" for name, n in sorted(out["check"]["events"].items()))
    print(("check: Clearing's positions equal the period's events" if out["check"]["agrees"]
           else "CHECK FAILED: Clearing's positions and the period's events disagree") + f" ({events})")
    for problem in out["check"]["disagreements"]:
        print(f"  DISAGREES: {problem}")
    if csv_file is not None:
        print(f"CSV: {csv_file}")


def _who(x: dict) -> str:
    if not x["amount"]:
        return "nothing to pay"
    return f"{x['payer']['name']} pays {x['payee']['name']} {x['amountDecimal']}"
