"""The error tree generated from ABIs, and the signers (keystore, and a stand-in for an HSM)."""
from __future__ import annotations

import pytest
from eth_abi import encode
from eth_account import Account
from eth_keys import keys
from eth_utils import function_signature_to_4byte_selector

from issuer_sdk import ConfigurationError, IssuerError, QuotaExceeded, errors, keystore_signer, write_keystore
from issuer_sdk.encoding import UnsignedTx
from issuer_sdk.ledger import LedgerCodec, load_abi
from issuer_sdk.signer import LocalSigner, Signer, sign_tx
from isdk_helpers import SCHEME
from ledger_node.contract_errors import CONTRACT_ERRORS


def test_sdkErrors_everyLedgerErrorHasAGeneratedClass():
    abi = load_abi()
    LedgerCodec(abi)
    for item in (i for i in abi if i["type"] == "error"):
        cls = errors.by_name(item["name"])
        assert issubclass(cls, errors.ContractError) and issubclass(cls, IssuerError)
        assert getattr(errors, item["name"]) is cls
        assert cls.code == CONTRACT_ERRORS[item["name"]].code  # the code the API answers with (one vocabulary)
    assert issubclass(errors.by_name("PointsLedgerIssuerDailyQuotaExceeded"), QuotaExceeded)
    assert issubclass(errors.by_name("PointsLedgerNotIssuer"), errors.NotIssuer)
    assert errors.by_name("PointsLedgerNotResident").code == errors.ResidentNotRegistered.code == "not_a_resident"
    assert errors.by_name("PointsLedgerInsufficientBalance").code == errors.InsufficientBalance.code == \
        "insufficient_points"


def test_sdkErrors_aNewContractErrorGetsItsClassAutomatically():
    abi = [{"type": "error", "name": "PointsLedgerWeeklyQuotaExceeded",
            "inputs": [{"name": "scheme", "type": "uint256"}, {"name": "quota", "type": "uint256"}]},
           {"type": "error", "name": "PointsLedgerSomethingNew", "inputs": []}]
    made = errors.register_abi(abi)
    assert issubclass(made["PointsLedgerWeeklyQuotaExceeded"], QuotaExceeded)
    assert made["PointsLedgerSomethingNew"].__bases__ == (errors.ContractError,)
    data = function_signature_to_4byte_selector("PointsLedgerWeeklyQuotaExceeded(uint256,uint256)") + \
        encode(["uint256", "uint256"], [3, 500])
    exc = errors.from_revert_data("0x" + data.hex(), attempted={"operation": "issueBatch", "count": 2})
    assert type(exc).__name__ == "PointsLedgerWeeklyQuotaExceeded" and exc.fields == {"scheme": 3, "quota": 500}
    assert "issueBatch" in str(exc) and exc.code == "quota_exceeded"
    assert isinstance(errors.from_revert_data("0xdeadbeef"), errors.TransactionReverted)


def test_keystoreSigner_decryptsWithPasswordFromEnvironment(tmp_path, monkeypatch):
    account = Account.create()
    path = tmp_path / "issuer.json"
    assert write_keystore(path, bytes(account.key), "s3cret", kdf="pbkdf2", iterations=2) == account.address
    monkeypatch.setenv("CITYPOINTS_KEYSTORE_PASSWORD", "s3cret")
    assert keystore_signer(path).address == account.address
    with pytest.raises(ConfigurationError):
        keystore_signer(path, "wrong")
    assert oct(path.stat().st_mode & 0o777) == "0o600"


class FakeHsm:
    """Holds the key elsewhere and signs digests only: the whole interface an HSM integration implements."""

    def __init__(self):
        self._key = keys.PrivateKey(Account.create().key)
        self.calls = 0

    @property
    def address(self) -> str:
        return self._key.public_key.to_checksum_address()

    def sign_hash(self, digest: bytes):
        self.calls += 1
        sig = self._key.sign_msg_hash(digest)
        return sig.v, sig.r, sig.s


def test_hsmSigner_isASigner_andSignsTransactionsTheNodeAccepts():
    hsm = FakeHsm()
    assert isinstance(hsm, Signer) and isinstance(LocalSigner(b"\x01" * 32), Signer)
    raw = sign_tx(hsm, UnsignedTx(7007, 0, 21_000, b"\x11" * 20, b""))
    assert Account.recover_transaction(raw) == hsm.address and hsm.calls == 1


def test_hsmSigner_issuesOnTheNode_withoutNativeCoin(city, operator):
    from issuer_sdk import IssuerClient
    from ledger_node.deploy.system import call, propose_and_execute

    hsm = FakeHsm()
    m = city.contracts["Membership"]
    propose_and_execute(m.w3, city.contracts["Consortium"], [operator],
                        [call(m, "setIssuerAccounts", SCHEME, [city.issuer.address, hsm.address])], advance_time=True)
    client = IssuerClient(city.rpc_url, city.addresses["PointsLedger"], hsm, SCHEME, "0x" + "01" * 32)
    assert client.issue(city.residents[0], 7, "hsm-1").status == "issued" and hsm.calls == 1

