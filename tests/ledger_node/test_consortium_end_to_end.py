"""The consortium's genesis boots the embedded node, and everything above ledger_node runs on it unchanged:
deploy, issuance through the SDK, a redemption, and an audit that finds nothing wrong (issue 10)."""
from __future__ import annotations

import os
import time

import yaml
from eth_account import Account

from issuer_sdk import IssuerClient, LocalSigner
from ledger_node import chain
from ledger_node.node.anvil import AnvilProcess, free_port
from ledger_node.audit.run import AuditOptions, audit
from ledger_node.config import NodeConfig
from ledger_node.consortium.description import load_description
from ledger_node.consortium.generate import generate_network
from ledger_node.deploy.command import deploy_all
from ledger_node.paths import ROOT
from ledger_node.deploy.system import call, propose_and_execute
from ledger_node.redemption_plan import plan_on_chain
from ledger_node.typed_data import sign, typed_data

EXAMPLE = ROOT / "ledger_node" / "consortium" / "example-consortium.yaml"


def test_consortiumGenesis_runsDeployIssuanceRedemptionAndAudit(tmp_path):
    operator = Account.create()
    data = yaml.safe_load(EXAMPLE.read_text())
    data["allocations"][operator.address] = "5 ether"
    data["accounts"]["always_allowed"].append(operator.address)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(data))
    consortium = load_description(tmp_path / "c.yaml")
    generate_network(consortium, tmp_path / "out")
    cfg = NodeConfig(chain_id=consortium.network.chain_id, port=free_port(), gas_limit=consortium.network.gas_limit)
    node = AnvilProcess(cfg, tmp_path / "out" / "genesis.json", tmp_path / "anvil.log")
    node.start()
    try:
        w3 = chain.connect(node.url)
        assert w3.eth.chain_id == consortium.network.chain_id
        contracts = {n: chain.bind(w3, n, a) for n, a in deploy_all(w3, operator).items()}
        issuer, merchant, onboarding = Account.create(), Account.create(), Account.create()
        residents = [Account.create() for _ in range(3)]
        m = contracts["Membership"]
        propose_and_execute(w3, contracts["Consortium"], [operator], [
            call(contracts["PointsLedger"], "addScheme", 1, 10**6, 10**4),
            call(m, "setIssuerAccounts", 1, [issuer.address]),
            call(contracts["Rates"], "setInitialRate", 1, 10_000_000),
            call(m, "registerMerchant", merchant.address),
            call(m, "grantRole", m.functions.ONBOARDING_ROLE().call(), onboarding.address),
        ], "a small city on the consortium chain")
        chain.transact(w3, onboarding, m.functions.registerResidents(
            [r.address for r in residents], [os.urandom(32) for _ in residents]))

        client = IssuerClient(node.url, contracts["PointsLedger"].address, LocalSigner(issuer.key), 1,
                              salt=os.urandom(32), chain_id=w3.eth.chain_id)
        summary = client.issue_many((r.address, 100, f"hours-{i}") for i, r in enumerate(residents))
        assert summary.issued == 3

        redemption = contracts["Redemption"]
        parts = plan_on_chain(contracts["PointsLedger"], contracts["Rates"], redemption, residents[0].address, 250)
        msg = {"resident": residents[0].address, "merchant": merchant.address, "credits": 250,
               "parts": [p.as_message() for p in parts], "orderRef": os.urandom(32), "nonce": os.urandom(32),
               "deadline": int(time.time()) + 600}
        signature = sign(residents[0], typed_data("RedemptionConsent", w3.eth.chain_id, redemption.address, msg))
        consent = (msg["resident"], msg["merchant"], 250, [p.as_tuple() for p in parts], msg["orderRef"],
                   msg["nonce"], msg["deadline"])
        chain.transact(w3, merchant, redemption.functions.redeem(consent, signature))
        assert contracts["PointsLedger"].functions.balanceOf(residents[0].address, 1).call() == 75
        # the consortium's genesis is at time 0 (Besu's clock is the wall's); anvil's runs from its genesis, so
        # without the catch-up at start this redemption was stamped 1970 (redeemedAt 0: unknown, never refundable)
        record = redemption.functions.redemption(
            redemption.functions.redemptionIdOf(residents[0].address, msg["nonce"]).call()).call()
        assert abs(record[2] - time.time()) < 120

        result = audit(AuditOptions(rpc_url=node.url, contracts={n: c.address for n, c in contracts.items()}))
        assert result.problems == [], result.problems
        assert result.report["ok"]
    finally:
        node.stop()
