"""The city a governance command works on: the deployment (var/deployment.json), web3 on its node, its contracts
bound by name, and the names people know accounts and schemes by.

Names: a scheme is named by its English name in the SchemeRegistry (`describe-scheme`); an undescribed one by the demo
file (var/demo.json, when there is one): its issuers' `scheme` and `name` ("traffic-issuer" names scheme 2
"traffic"); accounts by the demo's member, issuer and shop names. Without either, ids and addresses are shown as
they are.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from web3 import Web3
from web3.contract import Contract

from ledger_node import chain, paths
from ledger_node.config import NodeConfig
from ledger_node.governance.errors import argument_error

GOVERNED_CONTRACTS = ("Consortium", "Membership", "PointsLedger", "Rates", "Exchange", "Redemption", "Clearing",
                      "AuditAttestations", "SchemeRegistry")


@dataclass
class City:
    w3: Web3
    deployment: dict
    contracts: dict[str, Contract]
    scheme_names: dict[int, str] = field(default_factory=dict)
    account_names: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Contract:
        return self.contracts[name]

    def contract_named(self, name: str) -> Contract:
        if name not in self.contracts:
            raise argument_error("unknown_contract", f"{name!r}; known: {', '.join(sorted(self.contracts))}")
        return self.contracts[name]

    def contract_at(self, address: str) -> tuple[str, Contract] | None:
        for name, contract in self.contracts.items():
            if contract.address.lower() == address.lower():
                return name, contract
        return None

    def scheme(self, scheme: int) -> str:
        """`2 (traffic)`, or `2` when no name is known."""
        name = self.scheme_names.get(int(scheme))
        return f"{scheme} ({name})" if name else str(scheme)

    def account(self, address: str) -> str:
        name = self.account_names.get(address.lower())
        return f"{address} ({name})" if name else address

    def scheme_ids(self) -> list[int]:
        return list(self["PointsLedger"].functions.schemeIds().call())

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])


def open_city(rpc_url: str | None = None, deployment_path: Path | None = None) -> City:
    """The city of `deployment_path` (default var/deployment.json under CITYPOINTS_HOME), reached at `rpc_url`
    (default the deployment's own rpcUrl, else the embedded node's)."""
    path = Path(deployment_path) if deployment_path else paths.deployment_file()
    try:
        deployment = json.loads(path.read_text())
    except FileNotFoundError:
        raise argument_error("no_deployment", f"{path} does not exist; run `citypoints deploy`") from None
    url = rpc_url or deployment.get("rpcUrl") or NodeConfig.from_env().rpc_url
    try:
        w3 = chain.connect(url)
    except ConnectionError as exc:
        raise argument_error("no_deployment", str(exc)) from None
    contracts = {name: chain.bind(w3, name, address) for name, address in deployment["contracts"].items()
                 if name in GOVERNED_CONTRACTS}
    schemes, accounts = _demo_names()
    city = City(w3, deployment, contracts, schemes, accounts)
    if "SchemeRegistry" in contracts:
        registry = contracts["SchemeRegistry"].functions
        for scheme in city.scheme_ids():
            name_en = registry.profileOf(scheme).call()[1]
            if name_en:
                city.scheme_names[int(scheme)] = name_en
    return city


def _demo_names() -> tuple[dict[int, str], dict[str, str]]:
    try:
        demo = json.loads(paths.demo_file().read_text())
    except (FileNotFoundError, ValueError):
        return {}, {}
    schemes = {int(i["scheme"]): str(i.get("name", "")).removesuffix("-issuer") for i in demo.get("issuers", [])
               if i.get("name")}
    accounts = {a["address"].lower(): a["name"] for group in ("members", "issuers", "districtIssuers", "merchants")
                for a in demo.get(group, []) if a.get("name") and a.get("address")}
    return schemes, accounts
