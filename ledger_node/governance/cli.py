"""`citypoints gov`: a member of the consortium governs from the command line.

    citypoints gov key new city-office                       # an encrypted keystore; prints the address
    citypoints gov propose set-rate 2 500000000 --as city-office --description "traffic rate for 2027"
    citypoints gov approve 7 --as traffic-org                # the others approve; at M approvals it is queued
    citypoints gov execute 7 --as city-office                # once its notice has passed
    citypoints gov sign 7 --as audit-org --out 7-audit.json   # an approval signed apart (no transaction)
    citypoints gov submit 7-audit.json 7-bank.json --as city-office   # anyone sends signed approvals
    citypoints gov list --state open / show 7 / cancel 7 / queue 7 / actions

Every command has --json (one JSON object on stdout). A refusal prints `error: CODE: message` on stderr (with
--json: {"error": {"code", "message", ...}} on stdout) and exits 1; nothing is sent when an argument is wrong, and
the contracts make every sent step all or nothing.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, List, Optional

import typer
from rich.console import Console

from ledger_node.governance.errors import GovError, argument_error
from ledger_node.governance.formats import utc
from ledger_node.member_keys import PASSWORD_ENV, KeystoreError, load_account_at_terminal, new_key

app = typer.Typer(help="The consortium's governance: propose named actions, approve, execute; read proposals in "
                       "words.", no_args_is_help=True, add_completion=False)
key_app = typer.Typer(help="Members' encrypted keystores under var/keys/members/.", no_args_is_help=True)
app.add_typer(key_app, name="key")
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

JSON = typer.Option(False, "--json", help="Print one JSON object.")
RPC = typer.Option(None, "--rpc", help="JSON-RPC URL (default: the deployment's rpcUrl).")
DEPLOYMENT = typer.Option(None, "--deployment", help="deployment.json (default: var/deployment.json).")
KEYSTORE = typer.Option(None, "--keystore", help="The member's encrypted keystore (password from "
                                                 "CITYPOINTS_KEYSTORE_PASSWORD, else asked).")
AS = typer.Option(None, "--as", help="The member key var/keys/members/NAME.json (made by `gov key new NAME`).")


def _run(as_json: bool, work: Callable[[], tuple[dict, list[str]]]) -> None:
    """Run `work` -> (JSON object, lines for people); print one or the other; a GovError exits 1 with its code."""
    try:
        try:
            result, lines = work()
        except KeystoreError as exc:  # the member key's refusals, shared with `citypoints settle`
            raise GovError(exc.code, exc.message) from None
    except GovError as exc:
        if as_json:
            print(json.dumps({"error": exc.as_dict()}))
        else:
            err.print(f"[red]error:[/red] {exc.code}: {exc.message}")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(result))
    else:
        for line in lines:
            out.print(line)


def _city(rpc: str | None, deployment: Path | None):
    from ledger_node.governance.city import open_city

    return open_city(rpc, deployment)


def _member(keystore: Path | None, name: str | None):
    return load_account_at_terminal(keystore, name)


@key_app.command("new")
def key_new(name: str = typer.Argument(..., help="The key's name: var/keys/members/NAME.json."),
            as_json: bool = JSON):
    """Create a member's encrypted keystore (0600, folder 0700) and print its address."""
    def work():
        password = os.environ.get(PASSWORD_ENV)
        if password is None:
            password = typer.prompt("new keystore password", hide_input=True, confirmation_prompt=True, err=True)
        address, path = new_key(name, password)
        return ({"name": name, "address": address, "keystore": str(path)},
                [address, f"keystore {path} (give --as {name}); a member adds it with `gov propose add-member "
                          f"{address}`"])

    _run(as_json, work)


@key_app.command("import")
def key_import(name: str = typer.Argument(..., help="The key's name: var/keys/members/NAME.json."),
               as_json: bool = JSON):
    """Encrypt an existing member's private key (hex, read from stdin, never an argument) into NAME's keystore."""
    import sys

    def work():
        secret = sys.stdin.readline() if not sys.stdin.isatty() else typer.prompt("private key (hex)",
                                                                                  hide_input=True, err=True)
        password = os.environ.get(PASSWORD_ENV)
        if password is None:
            password = typer.prompt("new keystore password", hide_input=True, confirmation_prompt=True, err=True)
        address, path = new_key(name, password, secret)
        return {"name": name, "address": address, "keystore": str(path)}, [address, f"keystore {path} (give --as {name})"]

    _run(as_json, work)


@app.command("actions")
def actions_cmd(as_json: bool = JSON):
    """List the named actions `gov propose` takes, with their arguments."""
    from ledger_node.governance.actions import BY_NAME

    def work():
        rows = [{"name": a.name, "usage": a.usage(), "contract": a.contract, "function": a.function,
                 "summary": a.summary, "params": [{"name": p.name, "help": p.help, "optional": p.optional}
                                                  for p in a.params]} for a in BY_NAME.values()]
        return {"actions": rows}, [f"{r['usage']:<44} {r['summary']}" for r in rows]

    _run(as_json, work)


@app.command("propose")
def propose_cmd(action: str = typer.Argument(..., help="A named action (`gov actions` lists them) or raw."),
                args: Optional[List[str]] = typer.Argument(None, help="The action's arguments."),
                description: str = typer.Option("", "--description", help="Why: shown with the proposal."),
                keystore: Optional[Path] = KEYSTORE, member: Optional[str] = AS,
                rpc: Optional[str] = RPC, deployment: Optional[Path] = DEPLOYMENT, as_json: bool = JSON):
    """Propose ACTION; print the proposal id and its calls in words. Your approval counts at once."""
    from ledger_node.governance.actions import proposal_calls
    from ledger_node.governance.proposals import read_proposal, summary_lines
    from ledger_node.governance.transactions import propose

    def work():
        city = _city(rpc, deployment)
        calls = proposal_calls(city, action, list(args or []))
        account = _member(keystore, member)
        proposal_id, tx = propose(city, account, calls, description)
        shown = read_proposal(city, proposal_id)
        return ({"proposalId": proposal_id, "txHash": tx, "proposal": shown},
                [f"proposed {proposal_id} (tx {tx})"] + summary_lines(shown, city.now()))

    _run(as_json, work)


def _step(verb: str, proposal_id: int, keystore, member, rpc, deployment, as_json) -> None:
    from ledger_node.governance.proposals import read_proposal, summary_lines
    from ledger_node.governance.transactions import step

    def work():
        city = _city(rpc, deployment)
        read_proposal(city, proposal_id, described={})  # an unknown id is refused before the password is asked
        account = _member(keystore, member)
        tx = step(city, account, verb, proposal_id)
        shown = read_proposal(city, proposal_id)
        past = {"approve": "approved", "queue": "queued", "execute": "executed", "cancel": "cancelled"}[verb]
        return ({"proposalId": proposal_id, "txHash": tx, "proposal": shown},
                [f"{past} {proposal_id} (tx {tx})"] + summary_lines(shown, city.now()))

    _run(as_json, work)


ID = typer.Argument(..., min=1, help="The proposal id.")


@app.command("approve")
def approve_cmd(proposal_id: int = ID, keystore: Optional[Path] = KEYSTORE, member: Optional[str] = AS,
                rpc: Optional[str] = RPC, deployment: Optional[Path] = DEPLOYMENT, as_json: bool = JSON):
    """Approve a proposal. The approval that reaches the required number queues it (its notice starts)."""
    _step("approve", proposal_id, keystore, member, rpc, deployment, as_json)


@app.command("queue")
def queue_cmd(proposal_id: int = ID, keystore: Optional[Path] = KEYSTORE, member: Optional[str] = AS,
              rpc: Optional[str] = RPC, deployment: Optional[Path] = DEPLOYMENT, as_json: bool = JSON):
    """Queue a proposal that reached its approvals without a new one (M lowered since); approvals queue by
    themselves."""
    _step("queue", proposal_id, keystore, member, rpc, deployment, as_json)


@app.command("execute")
def execute_cmd(proposal_id: int = ID, keystore: Optional[Path] = KEYSTORE, member: Optional[str] = AS,
                rpc: Optional[str] = RPC, deployment: Optional[Path] = DEPLOYMENT, as_json: bool = JSON):
    """Execute a proposal whose notice has passed: all its calls, or none."""
    _step("execute", proposal_id, keystore, member, rpc, deployment, as_json)


@app.command("cancel")
def cancel_cmd(proposal_id: int = ID, keystore: Optional[Path] = KEYSTORE, member: Optional[str] = AS,
               rpc: Optional[str] = RPC, deployment: Optional[Path] = DEPLOYMENT, as_json: bool = JSON):
    """Cancel your own open proposal (others' are cancelled by a proposal: raw Consortium cancelByGovernance)."""
    _step("cancel", proposal_id, keystore, member, rpc, deployment, as_json)


@app.command("show")
def show_cmd(proposal_id: int = ID, rpc: Optional[str] = RPC, deployment: Optional[Path] = DEPLOYMENT,
             as_json: bool = JSON):
    """A proposal: state, approvals n of m and by whom, when it can be executed, its calls in words."""
    from ledger_node.governance.proposals import read_proposal, summary_lines

    def work():
        city = _city(rpc, deployment)
        shown = read_proposal(city, proposal_id)
        lines = summary_lines(shown, city.now())
        approvers = [city.account(a) + (" by signature" if shown["approvedHow"][a] == "signature" else "")
                     for a in shown["approvedBy"]]
        lines.insert(2, f"  proposed by {city.account(shown['proposer'])}; approved by "
                        f"{', '.join(approvers) or 'nobody'}")
        return {"proposal": shown}, lines

    _run(as_json, work)


@app.command("sign")
def sign_cmd(proposal_id: int = ID, keystore: Optional[Path] = KEYSTORE, member: Optional[str] = AS,
             out_file: Optional[Path] = typer.Option(None, "--out", help="Write the signed approval here "
                                                                          "(default: print it)."),
             valid_for: int = typer.Option(7 * 86400, "--valid-for", help="Seconds the signature may be used "
                                                                          "(60 s to 30 days; default 7 days)."),
             rpc: Optional[str] = RPC, deployment: Optional[Path] = DEPLOYMENT, as_json: bool = JSON):
    """Sign your approval of a proposal without sending anything: a small JSON file another member, the relayer or
    the operator submits with `gov submit`. It approves this proposal's calls only, until its deadline."""
    from ledger_node.governance.proposals import read_proposal
    from ledger_node.governance.signed import sign_approval

    def work():
        city = _city(rpc, deployment)
        shown = read_proposal(city, proposal_id)  # an unknown id is refused before the password is asked
        account = _member(keystore, member)
        approval = sign_approval(city, account, proposal_id, valid_for)
        text = json.dumps(approval, indent=2) + "\n"
        lines = [f"{city.account(account.address)} signed approval of proposal {proposal_id} "
                 f"({'; '.join(c['words'] for c in shown['calls'])}), usable until {utc(approval['deadline'])}"]
        if out_file is not None:
            if out_file.exists():
                raise argument_error("file_exists", f"{out_file}; give another --out")
            out_file.write_text(text)
            lines.append(f"written to {out_file}; anyone submits it with `citypoints gov submit {out_file}`")
        else:
            lines.append(text.rstrip())
        return {"approval": approval, "file": str(out_file) if out_file else None}, lines

    _run(as_json, work)


MAX_FILES = 64


@app.command("submit")
def submit_cmd(files: List[Path] = typer.Argument(..., help="Signed approval files (`gov sign` writes them)."),
               keystore: Optional[Path] = KEYSTORE, member: Optional[str] = AS,
               operator: bool = typer.Option(False, "--operator", help="Send with the node's operator key "
                                                                       "(var/keys/operator.key) instead of a "
                                                                       "member's."),
               rpc: Optional[str] = RPC, deployment: Optional[Path] = DEPLOYMENT, as_json: bool = JSON):
    """Submit signed approvals (Consortium.approveBySig). Any key may send them: the signatures are the authority.
    Every file is checked before anything is sent; an approval already counted is reported, not sent again."""
    from ledger_node.governance.proposals import read_proposal, summary_lines
    from ledger_node.governance.signed import check_against_chain, read_approval, submit_approvals

    def work():
        if len(files) > MAX_FILES:
            raise argument_error("bad_arguments", f"at most {MAX_FILES} files at once")
        approvals = [read_approval(f) for f in files]
        city = _city(rpc, deployment)
        for approval in approvals:  # all refused before a password is asked or anything sent
            check_against_chain(city, approval)
        if operator:
            if keystore is not None or member is not None:
                raise GovError("two_signers", "give --operator, --keystore or --as, one of them")
            from ledger_node.keys import operator_account
            sender = operator_account()
        else:
            sender = _member(keystore, member)
        done = submit_approvals(city, sender, approvals)
        lines = []
        for d in done:
            what = "already counted" if d.get("already") else f"approved (tx {d['txHash']})"
            lines.append(f"proposal {d['proposalId']}: {city.account(d['member'])} {what}")
        proposals = {}
        for pid in dict.fromkeys(d["proposalId"] for d in done):
            proposals[pid] = read_proposal(city, pid)
            lines += summary_lines(proposals[pid], city.now())
        return {"submitted": done, "proposals": list(proposals.values())}, lines

    _run(as_json, work)


@app.command("list")
def list_cmd(state: Optional[str] = typer.Option(None, "--state", help="open, queued, executable, executed, "
                                                                       "cancelled or expired."),
             rpc: Optional[str] = RPC, deployment: Optional[Path] = DEPLOYMENT, as_json: bool = JSON):
    """Proposals, newest first, each with its state, approvals and calls in words."""
    from ledger_node.governance.proposals import list_proposals

    def work():
        city = _city(rpc, deployment)
        found = list_proposals(city, state)
        lines = [f"{p['id']:>4}  {p['state']:<10} {p['approvals']}/{p['required']}  "
                 + "; ".join(c["words"] for c in p["calls"]) for p in found] or ["no proposals"]
        return {"proposals": found}, lines

    _run(as_json, work)
