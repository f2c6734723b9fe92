"""System contracts that a Cancun/Prague chain needs in its genesis state.

Besu runs the system calls of these EIPs in every block from the fork on, and for Prague it fails
fast when the request contract addresses are missing from the genesis config (besu PR #8567),
while EIP-7002 / EIP-7251 make a block invalid when no code sits at the predeploy address (besu PR
#8573). On mainnet they were deployed by keyless transactions; a chain that starts at Prague has
to carry them in `alloc` instead, in the state those transactions leave behind: nonce 1, the
runtime code, and for 7002/7251 the "excess inhibitor" (2**256-1) that their constructor stores in
slot 0 (the first end-of-block system call resets it).

Source of every byte: the deployment transaction `input` (init code) published in each EIP
(github.com/ethereum/EIPs, EIPS/eip-4788.md, eip-2935.md, eip-7002.md, eip-7251.md, "Deployment").
The runtime code is the init code after its constructor; tests check it against anvil's own copy
(2935), against running the init code on anvil, and the addresses against `rlp([sender, 0])`.
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_UINT256 = 2**256 - 1


@dataclass(frozen=True)
class SystemContract:
    eip: str
    name: str
    address: str
    deployer: str  # the keyless sender of the EIP's deployment transaction
    init_code: str
    constructor_length: int  # bytes of init code before the runtime code
    fork: str  # the first fork that needs it
    slot0_inhibitor: bool = False

    @property
    def runtime_code(self) -> str:
        return "0x" + self.init_code[2 + 2 * self.constructor_length :]

    def genesis_account(self) -> dict:
        account = {"balance": "0x0", "nonce": "0x1", "code": self.runtime_code}
        if self.slot0_inhibitor:
            account["storage"] = {"0x" + "00" * 32: "0x" + "ff" * 32}
        return account


BEACON_ROOTS = SystemContract(
    eip="EIP-4788",
    name="beacon block roots",
    address="0x000F3df6D732807Ef1319fB7B8bB8522d0Beac02",
    deployer="0x0B799C86a49DEeb90402691F1041aa3AF2d3C875",
    init_code=(
        "0x"
        "60618060095f395ff33373fffffffffffffffffffffffffffffffffffffffe14604d57602036146024575f5ffd5b5f35"
        "801560495762001fff810690815414603c575f5ffd5b62001fff01545f5260205ff35b5f5ffd5b62001fff4206428155"
        "5f359062001fff015500"
    ),
    constructor_length=9,
    fork="cancun",
    slot0_inhibitor=False,
)

HISTORY_STORAGE = SystemContract(
    eip="EIP-2935",
    name="historical block hashes",
    address="0x0000F90827F1C53a10cb7A02335B175320002935",
    deployer="0x3462413Af4609098e1E27A490f554f260213D685",
    init_code=(
        "0x"
        "60538060095f395ff33373fffffffffffffffffffffffffffffffffffffffe14604657602036036042575f3560014303"
        "8111604257611fff81430311604257611fff9006545f5260205ff35b5f5ffd5b5f35611fff60014303065500"
    ),
    constructor_length=9,
    fork="prague",
    slot0_inhibitor=False,
)

WITHDRAWAL_REQUESTS = SystemContract(
    eip="EIP-7002",
    name="withdrawal requests",
    address="0x00000961Ef480Eb55e80D19ad83579A64c007002",
    deployer="0x8646861A7cF453dDD086874d622b0696dE5b9674",
    init_code=(
        "0x"
        "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff5f556101f880602d5f395ff33373ff"
        "fffffffffffffffffffffffffffffffffffffe1460cb5760115f54807fffffffffffffffffffffffffffffffffffffff"
        "ffffffffffffffffffffffffff146101f457600182026001905f5b5f8211156068578101908302848302900491600101"
        "9190604d565b909390049250505036603814608857366101f457346101f4575f5260205ff35b34106101f45760015460"
        "0101600155600354806003026004013381556001015f35815560010160203590553360601b5f5260385f601437604c5f"
        "a0600101600355005b6003546002548082038060101160df575060105b5f5b8181146101835782810160030260040181"
        "604c02815460601b8152601401816001015481526020019060020154807fffffffffffffffffffffffffffffffff0000"
        "0000000000000000000000000000168252906010019060401c908160381c81600701538160301c81600601538160281c"
        "81600501538160201c81600401538160181c81600301538160101c81600201538160081c81600101535360010160e156"
        "5b910180921461019557906002556101a0565b90505f6002555f6003555b5f54807fffffffffffffffffffffffffffff"
        "ffffffffffffffffffffffffffffffffffff14156101cd57505f5b6001546002828201116101e25750505f6101e8565b"
        "01600290035b5f555f600155604c025ff35b5f5ffd"
    ),
    constructor_length=45,
    fork="prague",
    slot0_inhibitor=True,
)

CONSOLIDATION_REQUESTS = SystemContract(
    eip="EIP-7251",
    name="consolidation requests",
    address="0x0000BBdDc7CE488642fb579F8B00f3a590007251",
    deployer="0x13d1913d623E6a9D8811736359E50fD31Fe54fCA",
    init_code=(
        "0x"
        "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff5f5561019e80602d5f395ff33373ff"
        "fffffffffffffffffffffffffffffffffffffe1460d35760115f54807fffffffffffffffffffffffffffffffffffffff"
        "ffffffffffffffffffffffffff1461019a57600182026001905f5b5f8211156068578101908302848302900491600101"
        "9190604d565b9093900492505050366060146088573661019a573461019a575f5260205ff35b341061019a5760015460"
        "0101600155600354806004026004013381556001015f358155600101602035815560010160403590553360601b5f5260"
        "605f60143760745fa0600101600355005b6003546002548082038060021160e7575060025b5f5b818114610129578281"
        "0160040260040181607402815460601b8152601401816001015481526020018160020154815260200190600301549052"
        "60010160e9565b910180921461013b5790600255610146565b90505f6002555f6003555b5f54807fffffffffffffffff"
        "ffffffffffffffffffffffffffffffffffffffffffffffff141561017357505f5b600154600182820111610188575050"
        "5f61018e565b01600190035b5f555f6001556074025ff35b5f5ffd"
    ),
    constructor_length=45,
    fork="prague",
    slot0_inhibitor=True,
)

ALL = (BEACON_ROOTS, HISTORY_STORAGE, WITHDRAWAL_REQUESTS, CONSOLIDATION_REQUESTS)
_FORK_ORDER = ("london", "shanghai", "cancun", "prague")


def needed_for(fork: str) -> tuple[SystemContract, ...]:
    """The system contracts a chain that starts at `fork` must hold at genesis."""
    level = _FORK_ORDER.index(fork)
    return tuple(c for c in ALL if _FORK_ORDER.index(c.fork) <= level)
