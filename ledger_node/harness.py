"""A supervised embedded node in a directory of its own, for tests and benchmarks: start, kill -9, restart,
stop, and its public and operator URLs. The same supervisor `citypoints node start` runs.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ledger_node import paths
from ledger_node.node.anvil import NodeError, free_port, rpc
from ledger_node.domain import UINT96_MAX


class SupervisedNode:
    def __init__(self, home: Path, *, engine: str = "anvil", block_period: float = 0.2, port: int | None = None,
                 snapshot_interval: float = 3600, extra_env: dict | None = None):
        self.home = Path(home)
        self.port = port or free_port()
        self.env = dict(os.environ, CITYPOINTS_HOME=str(self.home), CITYPOINTS_RPC_PORT=str(self.port),
                        CITYPOINTS_ENGINE=engine, CITYPOINTS_BLOCK_PERIOD=str(block_period),
                        CITYPOINTS_SNAPSHOT_INTERVAL=str(snapshot_interval), **(extra_env or {}))
        self.proc: subprocess.Popen | None = None

    @property
    def chain_dir(self) -> Path:
        return self.home / "var" / "chain"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def operator_url(self) -> str:
        info = json.loads((self.chain_dir / "node.json").read_text())
        token = (self.chain_dir / "operator.token").read_text().strip()
        return f"{info['operatorUrl']}/{token}"

    def start(self, timeout: float = 600) -> float:
        """Start and wait until the public RPC answers; returns the seconds it took (restore included)."""
        started = time.monotonic()
        (self.chain_dir / "node.json").unlink(missing_ok=True)
        self.chain_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.chain_dir / "node.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "ledger_node.node.supervisor"], env=self.env, cwd=paths.ROOT,
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        log.close()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise NodeError(f"node exited with {self.proc.returncode}: {self.log_tail()}")
            if (self.chain_dir / "node.json").exists():
                try:
                    rpc(self.url, "eth_blockNumber", timeout=2)
                    return time.monotonic() - started
                except Exception:
                    pass
            time.sleep(0.05)
        raise NodeError(f"node did not start within {timeout}s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the supervisor (the engine follows it: it dies with its parent)."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._wait_engine_gone()

    def stop(self, timeout: float = 300) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._wait_engine_gone()

    def operator(self, method: str, params: list | None = None, timeout: float = 3600):
        return rpc(self.operator_url, method, params, timeout=timeout)

    def log_tail(self, lines: int = 8) -> str:
        try:
            return " | ".join((self.chain_dir / "node.log").read_text(errors="replace").strip().splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def _wait_engine_gone(self, timeout: float = 10) -> None:
        if not self.proc:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
            engines = subprocess.run(["pgrep", "-s", str(self.proc.pid)], capture_output=True, text=True).stdout
            if not out.strip() and not engines.strip():
                return
            time.sleep(0.05)


# ---- issuance and redemption workloads on the real contracts (kill test, node benchmark) ------------------------

SCHEME = 1
ISSUE_BATCH = "issueBatch(uint256,address[],uint256[],bytes32[])"
REDEEM = "redeem((address,address,uint256,(uint256,uint256,uint256)[],bytes32,bytes32,uint256),bytes)"
RATE = 10_000_000  # scheme 1's rate when merchants are set up: 10 credit cents a point (rates are scaled by 1e6)


def deploy_issuance(w3, operator, *, residents: list[str], issuers: list[str], register_chunk: int = 500):
    """Deploy the CityPoints system, add scheme 1 with `issuers` and unlimited quotas, register `residents`.

    Returns the bound PointsLedger contract.
    """
    return deploy_city(w3, operator, residents=residents, issuers=issuers, register_chunk=register_chunk)["PointsLedger"]


def deploy_city(w3, operator, *, residents: list[str], issuers: list[str], merchants: list[str] = (),
                register_chunk: int = 500) -> dict:
    """`deploy_issuance`'s system; with `merchants`, also the value contracts (ledger_node/deploy/system_value.py), scheme
    1's rate (RATE) and those merchants registered, so residents' signed consents can be redeemed at them.

    Returns the bound contracts by name.
    """
    from eth_utils import keccak

    from ledger_node import chain
    from ledger_node.deploy.system import call, deploy_system, grant_roles, propose_and_execute, setup_scheme
    from ledger_node.deploy.system_value import deploy_value_system

    def deploy_contract(name, *args):
        return chain.deploy_contract(w3, operator, name, *args)

    addresses = deploy_system(w3, operator, deploy_contract=deploy_contract)
    if merchants:
        addresses.update(deploy_value_system(w3, operator, addresses, deploy_contract=deploy_contract))
    contracts = {n: chain.bind(w3, n, a) for n, a in addresses.items()}
    setup_scheme(w3, contracts, [operator], SCHEME, issuer_accounts=issuers, issuer_daily_quota=UINT96_MAX,
                 resident_daily_cap=UINT96_MAX)
    grant_roles(w3, contracts, [operator], [("ONBOARDING_ROLE", operator.address)])
    if merchants:
        propose_and_execute(w3, contracts["Consortium"], [operator], [
            call(contracts["Rates"], "setInitialRate", SCHEME, RATE),
            *(call(contracts["Membership"], "registerMerchant", m) for m in merchants)], "rate and merchants")
    membership = contracts["Membership"]
    nonce = w3.eth.get_transaction_count(operator.address, "pending")
    hashes = []
    for i in range(0, len(residents), register_chunk):
        chunk = residents[i:i + register_chunk]
        fn = membership.functions.registerResidents(chunk, [keccak(bytes.fromhex(a[2:]) + b"resident") for a in chunk])
        tx = fn.build_transaction({"from": operator.address, "nonce": nonce, "gas": 60_000 * len(chunk) + 200_000,
                                   "maxFeePerGas": 0, "maxPriorityFeePerGas": 0, "chainId": w3.eth.chain_id})
        hashes.append(w3.eth.send_raw_transaction(operator.sign_transaction(tx).raw_transaction))
        nonce += 1
    for h in hashes:
        receipt = w3.eth.wait_for_transaction_receipt(h, timeout=600, poll_latency=0.05)
        assert receipt["status"] == 1, "registerResidents failed"
    return contracts


def sign_issue_batch(issuer, ledger_address: str, nonce: int, chain_id: int, residents: list[str],
                     amounts: list[int], refs: list[bytes], gas_per_item: int = 80_000) -> str:
    """A signed `issueBatch` on scheme 1, encoded without web3's (slow) contract machinery."""
    from eth_abi import encode
    from eth_utils import keccak

    data = keccak(ISSUE_BATCH.encode())[:4] + encode(["uint256", "address[]", "uint256[]", "bytes32[]"],
                                                      [SCHEME, residents, amounts, refs])
    tx = {"to": ledger_address, "data": data, "value": 0, "nonce": nonce, "chainId": chain_id,
          "gas": gas_per_item * len(residents) + 150_000, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
    return "0x" + issuer.sign_transaction(tx).raw_transaction.hex()


def one_part_plan(credits: int) -> list[dict]:
    """The harness city's plan for `credits`: whole points of scheme 1 at RATE, exact (no change left or needed)
    when `credits` are a whole number of points' worth, as the harness's redemptions are."""
    return [{"scheme": SCHEME, "points": -(-credits * 10**6 // RATE), "credits": credits}]


def sign_redemption(resident, merchant, redemption_address: str, nonce: int, chain_id: int, credits: int,
                    consent_nonce: bytes, deadline: int, order_ref: bytes = b"\x00" * 32) -> str:
    """A `Redemption.redeem` the merchant submits with the resident's EIP-712 RedemptionConsent, signed by both.
    The plan is `one_part_plan(credits)`."""
    from eth_abi import encode
    from eth_utils import keccak

    from ledger_node.typed_data import sign, typed_data

    parts = one_part_plan(credits)
    message = {"resident": resident.address, "merchant": merchant.address, "credits": credits, "parts": parts,
               "orderRef": order_ref, "nonce": consent_nonce, "deadline": deadline}
    signature = sign(resident, typed_data("RedemptionConsent", chain_id, redemption_address, message))
    data = keccak(REDEEM.encode())[:4] + encode(
        ["(address,address,uint256,(uint256,uint256,uint256)[],bytes32,bytes32,uint256)", "bytes"],
        [(resident.address, merchant.address, credits, [(p["scheme"], p["points"], p["credits"]) for p in parts],
          order_ref, consent_nonce, deadline), signature])
    tx = {"to": redemption_address, "data": data, "value": 0, "nonce": nonce, "chainId": chain_id, "gas": 400_000,
          "maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
    return "0x" + merchant.sign_transaction(tx).raw_transaction.hex()
