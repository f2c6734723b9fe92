"""The demo city: its accounts (var/demo.json, docs/DESIGN.md's shape) and its on-chain set-up.

Never for production: demo.json holds private keys. Every step is resumable: accounts are created
once and kept, and each on-chain step records that it finished in var/demo.progress.json.
"""
from __future__ import annotations

import json
import secrets

from eth_account import Account
from rich.console import Console
from rich.progress import Progress

from ledger_node import chain, paths
from ledger_node.config import NodeConfig
from ledger_node.deploy.command import read_deployment
from ledger_node.keys import operator_account

SCHEMES = [(1, "volunteer"), (2, "traffic"), (3, "culture"), (4, "green"), (5, "residence")]
MEMBERS = ["city-authority", "volunteer-org", "traffic-org", "culture-org", "green-org",
           "merchant-association", "auditor-org"]


def load_demo(*, residents: int = 1000, merchants: int = 20, console: Console | None = None) -> str:
    console = console or Console()
    demo = _accounts(residents, merchants)
    deployment = read_deployment()
    if not deployment:
        raise RuntimeError("no var/deployment.json: run `citypoints deploy` first")
    w3 = chain.connect(deployment["rpcUrl"])
    progress = _progress()
    if progress.get("chainId") != w3.eth.chain_id or progress.get("contracts") != deployment["contracts"]:
        progress = {"chainId": w3.eth.chain_id, "contracts": deployment["contracts"], "done": []}
    steps = [("fund", lambda: _fund(w3, demo))] + _chain_steps(w3, deployment, demo)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("demo city", total=len(steps))
        for name, step in steps:
            if name not in progress["done"]:
                bar.update(task, description=f"demo city: {name}")
                step()
                progress["done"].append(name)
                _save_progress(progress)
            bar.advance(task)
    return (f"demo city ready: {len(demo['residents'])} residents, {len(demo['merchants'])} merchants, "
            f"{len(demo['issuers'])} issuers, {len(demo['members'])} consortium members -> {paths.demo_file()}")


def _accounts(residents: int, merchants: int) -> dict:
    path = paths.demo_file()
    demo = json.loads(path.read_text()) if path.exists() else {}

    def acct(**extra):
        a = Account.create()
        return {"address": a.address, "privateKey": a.key.hex(), **extra}

    demo.setdefault("members", [acct(name=n) for n in MEMBERS])
    issuers = demo.setdefault("issuers", [])
    known = {i["scheme"] for i in issuers}
    issuers += [acct(scheme=s, name=f"{n}-issuer") for s, n in SCHEMES if s not in known]
    # issuer accounts that join later, by proposal (scripts/demo_history.py): the volunteer district office
    demo.setdefault("districtIssuers", [acct(scheme=1, name="volunteer-district-office")])
    demo.setdefault("auditors", [acct(name="city-auditor")])
    demo.setdefault("relayers", [acct(name="relayer")])
    demo.setdefault("onboarding", [acct(name="onboarding-office")])
    existing = demo.setdefault("merchants", [])
    for i in range(len(existing), merchants):
        existing.append(acct(name=f"merchant-{i + 1:02d}", apiKey="cpk_" + secrets.token_urlsafe(24)))
    from scripts.demo_city import shop_catalogue
    for i, m in enumerate(existing):  # the shops' profiles and offers (issue 22), for files made before too
        m.setdefault("catalogue", shop_catalogue(i))
    people = demo.setdefault("residents", [])
    for i in range(len(people), residents):
        people.append(acct(name=f"resident-{i + 1:04d}"))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(demo, indent=1))
    tmp.chmod(0o600)
    tmp.replace(path)
    return demo


KEY_GROUPS = ("members", "issuers", "districtIssuers", "auditors", "onboarding", "merchants")


def import_demo_keys(names: list[str], password: str, console: Console) -> list[dict]:
    """Encrypt the named demo accounts' keys (var/demo.json; default: the consortium's seven members) into keystores
    `var/keys/members/NAME.json`, so that `citypoints gov ... --as NAME` and `citypoints settle ... --as NAME` act as
    them on the demo city. A keystore that exists is left as it is. Never for production: demo.json holds the keys
    in clear anyway."""
    from ledger_node.member_keys import KeystoreError, member_keystore, new_key

    demo = json.loads(paths.demo_file().read_text()) if paths.demo_file().exists() else {}
    accounts = {a["name"]: a for group in KEY_GROUPS for a in demo.get(group, []) if a.get("name")}
    wanted = names or [m["name"] for m in demo.get("members", [])]
    unknown = [n for n in wanted if n not in accounts]
    if not demo or unknown:
        raise KeystoreError("unknown_demo_account", f"no demo account named {', '.join(unknown) or 'any'} in "
                                                    f"{paths.demo_file()}; run `citypoints demo` first")
    done = []
    with Progress(console=console, transient=True) as bar:  # each keystore takes a few seconds (scrypt)
        task = bar.add_task("keystores", total=len(wanted))
        for name in wanted:
            path = member_keystore(name)
            if path.exists():
                done.append({"name": name, "address": accounts[name]["address"], "keystore": str(path),
                             "created": False})
            else:
                address, path = new_key(name, password, accounts[name]["privateKey"])
                done.append({"name": name, "address": address, "keystore": str(path), "created": True})
            bar.advance(task)
    return done


def transacting_addresses(demo: dict) -> list[str]:
    """Every demo account that sends transactions itself (residents act through signed intents)."""
    groups = ("members", "issuers", "districtIssuers", "auditors", "relayers", "onboarding", "merchants")
    return [a["address"] for g in groups for a in demo[g]]


def _fund(w3, demo: dict) -> None:
    chain.fund(w3, operator_account(), transacting_addresses(demo), NodeConfig.from_env().funding_wei // 1000)


def _chain_steps(w3, deployment: dict, demo: dict) -> list:
    from scripts.demo_city import DemoCity

    city = DemoCity(w3, deployment, demo, operator_account())
    return [("governance", city.governance), ("rules", city.rules), ("residents", city.register_residents),
            ("issuance", city.issue_month), ("history", city.history), ("newcomers", city.newcomers),
            ("activity", city.activity),
            ("attestation", city.attestation)]


def _progress() -> dict:
    path = paths.var_dir() / "demo.progress.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _save_progress(progress: dict) -> None:
    (paths.var_dir() / "demo.progress.json").write_text(json.dumps(progress))
