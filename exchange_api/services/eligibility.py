"""Eligibility proofs: a resident proves "I hold at least N points of programme S" to a service (a school's
enrolment office asking for residence-permit points) without showing the holding itself.

The resident signs an EIP-712 EligibilityProof(resident, scheme, minPoints, service, nonce, deadline) for that
service (verifying contract: SchemeRegistry). The service (or anyone for it) posts it here; the API checks it on
chain first (SchemeRegistry.checkEligibility as the relayer: signature, deadline, nonce, holding), so a refused
proof costs no transaction and says why, then relays SchemeRegistry.proveEligibility: the proof is used once and
its use is an event on chain (who asked, for which threshold, when), which the auditor checks against the
holding at that moment. The answer never carries the resident's balance.
"""
from __future__ import annotations

from dataclasses import dataclass

from exchange_api.chain import ChainClient, fn, unhex
from exchange_api.errors import Unavailable
from exchange_api.relayer import Relayer
from exchange_api.services.common import relay, simulate
from exchange_api.settings import Settings
from ledger_node.typed_data import checksum

PROOF = "(address,uint256,uint256,address,bytes32,uint256)"
CHECK = fn(f"checkEligibility({PROOF},bytes)")
PROVE = fn(f"proveEligibility({PROOF},bytes)")
PROVE_GAS = 300_000  # ~60k for an EOA's proof; an EIP-1271 wallet's check costs more


@dataclass
class Eligibility:
    chain: ChainClient
    relayer: Relayer
    settings: Settings

    async def prove(self, body) -> dict:
        """Check `body` (the signed proof) on chain, then use it: {"object", "eligible": True, "txHash", "block"} or
        "pending" when the transaction is not mined within the confirmation timeout."""
        registry = self.chain.addresses.get("SchemeRegistry")
        if registry is None:
            raise Unavailable("this deployment has no SchemeRegistry", code="registry_not_deployed")
        if not self.relayer.accounts:
            raise Unavailable("no relayer account is configured (CITYPOINTS_RELAYER_KEYS)",
                              code="relayer_not_configured")
        proof = (checksum(body.resident), body.scheme, body.minPoints, checksum(body.service), unhex(body.nonce),
                 body.deadline)
        signature = unhex(body.signature)
        # every refusal (expired, used, forged, not enough points) before a nonce is taken; in the block: another
        # submission of the same proof came first, proof_already_used
        await simulate(self.chain, registry, CHECK.encode(proof, signature), self.relayer.accounts[0].address)
        answer = {"object": "eligibility_proof", "resident": proof[0], "scheme": body.scheme,
                  "minPoints": body.minPoints, "service": proof[3], "nonce": body.nonce.lower()}
        h, mined = await relay(self.relayer, self.settings.confirm_timeout_s, kind="eligibility_proof",
                               subject_id=body.nonce.lower(), to=registry, data=PROVE.encode(proof, signature),
                               gas=PROVE_GAS)
        if mined is None:
            return {**answer, "status": "pending", "txHash": h, "block": None}
        return {**answer, "status": "proven", "txHash": h, "block": int(mined.receipt["blockNumber"], 16)}
