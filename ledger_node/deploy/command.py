"""`citypoints deploy`: deploy the contracts and write var/deployment.json exactly as docs/DESIGN.md gives it."""
from __future__ import annotations

import json
from dataclasses import dataclass

from web3 import Web3

from ledger_node import chain, compiler, paths
from ledger_node.config import NodeConfig
from ledger_node.keys import operator_account


@dataclass
class DeployResult:
    deployment: dict
    deployed_now: bool
    message: str


def deploy(rpc_url: str | None = None, *, fresh: bool = False) -> DeployResult:
    rpc_url = rpc_url or NodeConfig.from_env().rpc_url
    w3 = chain.connect(rpc_url)
    existing = read_deployment()
    if existing and not fresh and _is_live(w3, existing):
        msg = "contracts already deployed on this chain; nothing to do (--fresh redeploys)"
        if _meta().get("sourceHash") != compiler.source_hash():
            msg += "; NOTE: contract sources changed since, run `citypoints deploy --fresh` to deploy them"
        return DeployResult(existing, False, msg)
    compiler.compile_all()
    operator = operator_account()
    start_block = w3.eth.block_number + 1
    contracts = deploy_all(w3, operator)
    deployment = {"chainId": w3.eth.chain_id, "rpcUrl": rpc_url, "startBlock": start_block,
                  "contracts": {k: Web3.to_checksum_address(v) for k, v in contracts.items()}}
    paths.var_dir().mkdir(parents=True, exist_ok=True)
    paths.deployment_file().write_text(json.dumps(deployment, indent=2))
    _meta_file().write_text(json.dumps({"sourceHash": compiler.source_hash(), "operator": operator.address}))
    return DeployResult(deployment, True, f"deployed {len(contracts)} contracts from block {start_block}")


def deploy_all(w3: Web3, operator) -> dict[str, str]:
    """Deploy and wire every contract with `operator` as the bootstrap consortium member; {name: address}."""
    from ledger_node.deploy.system import deploy_system
    from ledger_node.deploy.system_audit import deploy_audit_system
    from ledger_node.deploy.system_value import deploy_value_system

    def deploy_contract(name, *args):
        return chain.deploy_contract(w3, operator, name, *args)

    core = deploy_system(w3, operator, deploy_contract=deploy_contract)
    value = deploy_value_system(w3, operator, core, deploy_contract=deploy_contract)
    return {**core, **value, **deploy_audit_system(w3, operator, core, deploy_contract=deploy_contract)}


def read_deployment() -> dict | None:
    try:
        return json.loads(paths.deployment_file().read_text())
    except FileNotFoundError:
        return None


def _is_live(w3: Web3, deployment: dict) -> bool:
    if deployment.get("chainId") != w3.eth.chain_id:
        return False
    return all(len(w3.eth.get_code(a)) > 0 for a in deployment["contracts"].values())


def _meta_file():
    return paths.var_dir() / "deployment.meta.json"


def _meta() -> dict:
    try:
        return json.loads(_meta_file().read_text())
    except FileNotFoundError:
        return {}
