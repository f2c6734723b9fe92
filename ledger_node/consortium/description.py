"""The consortium description (`consortium.yaml`): loading and validation.

One YAML file names the member organisations, the host and ports of the validator each one runs,
optional non-validator RPC nodes, the accounts always allowed to transact, and genesis balances.
Every problem is reported as a `ConsortiumError` with a stable code; nothing is written on error.
See `example-consortium.yaml` beside this file for the full format.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from eth_utils import is_checksum_address, to_checksum_address

from . import errors as E
from .errors import ConsortiumError

# QBFT: n validators tolerate f faulty ones when n >= 3f + 1 (Besu QBFT docs: never lose more
# than 1/3 of the validators). Four is the smallest network that survives one failure.
MIN_VALIDATORS = 4

DEFAULT_BESU_VERSION = "26.9.0"
DEFAULT_BESU_IMAGE = "hyperledger/besu"
DEFAULT_GAS_LIMIT = 100_000_000  # 0x5F5E100
DEFAULT_BLOCK_PERIOD = 2
DEFAULT_EPOCH_LENGTH = 30_000
DEFAULT_INSTALL_DIR = "/opt/citypoints/consortium"
EVM_FORKS = ("london", "shanghai", "cancun", "prague")

_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")

_TOP_KEYS = {"network", "members", "rpc_nodes", "accounts", "allocations"}
_NETWORK_KEYS = {
    "name", "chain_id", "block_period_seconds", "request_timeout_seconds", "epoch_length",
    "gas_limit", "evm_fork", "besu_version", "besu_image", "install_dir", "rpc_listen",
}
_NODE_KEYS = {"name", "organisation", "role", "host", "p2p_port", "rpc_port", "admin_port"}
ADMIN_PORT_OFFSET = 1000  # admin_port defaults to rpc_port + 1000 (8601 -> 9601)
_ACCOUNT_KEYS = {"always_allowed"}


@dataclass(frozen=True)
class NodeSpec:
    """One Besu node: a member's validator, or a non-validator RPC node."""

    name: str
    organisation: str
    role: str
    host: str
    p2p_port: int
    rpc_port: int
    validator: bool
    admin_port: int = 0  # the JWT-authenticated admin WebSocket RPC, on 127.0.0.1 only

    @property
    def host_is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
            return True
        except ValueError:
            return False


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    chain_id: int
    block_period_seconds: int
    request_timeout_seconds: int
    epoch_length: int
    gas_limit: int
    evm_fork: str
    besu_version: str
    besu_image: str
    install_dir: str
    rpc_listen: str


@dataclass(frozen=True)
class Consortium:
    network: NetworkSpec
    validators: tuple[NodeSpec, ...]
    rpc_nodes: tuple[NodeSpec, ...] = ()
    always_allowed: tuple[str, ...] = ()  # checksummed addresses
    allocations: dict[str, int] = field(default_factory=dict)  # checksummed address -> wei
    source: Path | None = None

    @property
    def nodes(self) -> tuple[NodeSpec, ...]:
        return self.validators + self.rpc_nodes

    @property
    def fault_tolerance(self) -> int:
        """How many validators may fail while the network still produces blocks."""
        return (len(self.validators) - 1) // 3

    @property
    def uses_dns_names(self) -> bool:
        return any(not n.host_is_ip for n in self.nodes)


def load_description(path: str | Path) -> Consortium:
    path = Path(path)
    if not path.is_file():
        raise ConsortiumError(E.FILE_NOT_FOUND, f"consortium description {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConsortiumError(E.YAML_INVALID, f"{path} is not valid YAML: {exc}") from None
    consortium = parse_description(data)
    return Consortium(**{**consortium.__dict__, "source": path})


def parse_description(data: Any) -> Consortium:
    if not isinstance(data, dict):
        raise ConsortiumError(E.YAML_INVALID, "the consortium description must be a YAML mapping")
    _no_unknown(data, _TOP_KEYS, "top level")
    network = _parse_network(_require(data, "network", dict, "top level"))

    members = _require(data, "members", list, "top level")
    validators = tuple(_parse_node(m, f"members[{i}]", validator=True) for i, m in enumerate(members))
    rpc_raw = data.get("rpc_nodes") or []
    if not isinstance(rpc_raw, list):
        raise ConsortiumError(E.FIELD_INVALID, "rpc_nodes must be a list")
    rpc_nodes = tuple(_parse_node(m, f"rpc_nodes[{i}]", validator=False) for i, m in enumerate(rpc_raw))

    _check_unique(validators + rpc_nodes)
    if len(validators) < MIN_VALIDATORS:
        raise ConsortiumError(E.TOO_FEW_VALIDATORS, too_few_validators_message(len(validators)))

    accounts = data.get("accounts") or {}
    if not isinstance(accounts, dict):
        raise ConsortiumError(E.FIELD_INVALID, "accounts must be a mapping with always_allowed: [addresses]")
    _no_unknown(accounts, _ACCOUNT_KEYS, "accounts")
    allowed_raw = accounts.get("always_allowed") or []
    if not isinstance(allowed_raw, list):
        raise ConsortiumError(E.FIELD_INVALID, "accounts.always_allowed must be a list of addresses")
    always_allowed = tuple(
        dict.fromkeys(parse_address(a, f"accounts.always_allowed[{i}]") for i, a in enumerate(allowed_raw))
    )

    alloc_raw = data.get("allocations") or {}
    if not isinstance(alloc_raw, dict):
        raise ConsortiumError(E.FIELD_INVALID, "allocations must map addresses to balances")
    allocations: dict[str, int] = {}
    for addr, balance in alloc_raw.items():
        a = parse_address(addr, "allocations")
        if a in allocations:
            raise ConsortiumError(E.DUPLICATE_NAME, f"allocations lists {a} twice")
        allocations[a] = parse_balance(balance, f"allocations[{a}]")

    return Consortium(network, validators, rpc_nodes, always_allowed, allocations)


def too_few_validators_message(n: int) -> str:
    return (
        f"a QBFT network needs at least {MIN_VALIDATORS} validators, this description has {n}. "
        "QBFT tolerates f faulty or stopped validators only with n >= 3f + 1 validators: "
        f"with {n}, f = 0, so a single stopped validator halts block production "
        f"(and more than 1/3 stopped always does). Add {MIN_VALIDATORS - n} more member validator(s)."
    )


def parse_address(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ADDRESS_RE.match(value):
        raise ConsortiumError(E.BAD_ADDRESS, f"{where}: {value!r} is not a 0x-prefixed 20-byte hex address")
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise ConsortiumError(E.BAD_ADDRESS, f"{where}: {value} has a wrong EIP-55 checksum (mixed case)")
    return to_checksum_address(value)


def parse_balance(value: Any, where: str) -> int:
    """An integer (wei), a decimal string of wei, or '<number> ether'."""
    if isinstance(value, bool):
        raise ConsortiumError(E.FIELD_INVALID, f"{where}: a balance cannot be a boolean")
    if isinstance(value, int):
        wei = value
    elif isinstance(value, str):
        text = value.strip().lower()
        try:
            if text.endswith("ether"):
                amount = Decimal(text[: -len("ether")].strip()) * Decimal(10**18)
                if amount != amount.to_integral_value():
                    raise InvalidOperation
                wei = int(amount)
            elif text.startswith("0x"):
                wei = int(text, 16)
            else:
                wei = int(text)
        except (InvalidOperation, ValueError):
            raise ConsortiumError(
                E.FIELD_INVALID, f"{where}: {value!r} is not a balance (wei integer, 0x hex, or 'N ether')"
            ) from None
    else:
        raise ConsortiumError(E.FIELD_INVALID, f"{where}: {value!r} is not a balance")
    if wei < 0 or wei >= 2**256:
        raise ConsortiumError(E.FIELD_INVALID, f"{where}: balance out of range")
    return wei


def _parse_network(raw: dict) -> NetworkSpec:
    _no_unknown(raw, _NETWORK_KEYS, "network")
    chain_id = _int(raw, "chain_id", "network", required=True, minimum=1, maximum=2**53 - 1)
    period = _int(raw, "block_period_seconds", "network", default=DEFAULT_BLOCK_PERIOD, minimum=1, maximum=3600)
    timeout = _int(raw, "request_timeout_seconds", "network", default=2 * period, minimum=1, maximum=3600)
    epoch = _int(raw, "epoch_length", "network", default=DEFAULT_EPOCH_LENGTH, minimum=1, maximum=2**31)
    gas_limit = _int(raw, "gas_limit", "network", default=DEFAULT_GAS_LIMIT, minimum=5000, maximum=2**63 - 1)
    fork = raw.get("evm_fork", "prague")
    if fork not in EVM_FORKS:
        raise ConsortiumError(E.FIELD_INVALID, f"network.evm_fork must be one of {', '.join(EVM_FORKS)}, not {fork!r}")
    version = str(raw.get("besu_version", DEFAULT_BESU_VERSION))
    if not re.match(r"^\d+\.\d+\.\d+$", version):
        raise ConsortiumError(E.FIELD_INVALID, f"network.besu_version must be pinned as X.Y.Z, not {version!r}")
    name = _str(raw, "name", "network", default="citypoints")
    image = _str(raw, "besu_image", "network", default=DEFAULT_BESU_IMAGE)
    install_dir = _str(raw, "install_dir", "network", default=DEFAULT_INSTALL_DIR)
    if not install_dir.startswith("/"):
        raise ConsortiumError(E.FIELD_INVALID, "network.install_dir must be an absolute path")
    rpc_listen = _str(raw, "rpc_listen", "network", default="127.0.0.1")
    try:
        ipaddress.ip_address(rpc_listen)
    except ValueError:
        raise ConsortiumError(E.FIELD_INVALID, f"network.rpc_listen must be an IP address, not {rpc_listen!r}") from None
    return NetworkSpec(name, chain_id, period, timeout, epoch, gas_limit, fork, version, image, install_dir, rpc_listen)


def _parse_node(raw: Any, where: str, *, validator: bool) -> NodeSpec:
    if not isinstance(raw, dict):
        raise ConsortiumError(E.FIELD_INVALID, f"{where} must be a mapping with {', '.join(sorted(_NODE_KEYS))}")
    _no_unknown(raw, _NODE_KEYS, where)
    name = _str(raw, "name", where, required=True)
    if not _NAME_RE.match(name):
        raise ConsortiumError(
            E.FIELD_INVALID,
            f"{where}.name {name!r} must be 1-40 lowercase letters, digits or '-' (it names a folder and a service)",
        )
    where = f"{where} ({name})"
    organisation = _str(raw, "organisation", where, required=True)
    role = _str(raw, "role", where, default="member" if validator else "rpc")
    host = _str(raw, "host", where, required=True)
    if not _valid_host(host):
        raise ConsortiumError(E.FIELD_INVALID, f"{where}.host {host!r} is neither an IP address nor a DNS name")
    p2p = _port(raw, "p2p_port", where)
    rpc = _port(raw, "rpc_port", where)
    if p2p == rpc:
        raise ConsortiumError(E.DUPLICATE_ENDPOINT, f"{where}: p2p_port and rpc_port are both {p2p}")
    if raw.get("admin_port") is None and rpc + ADMIN_PORT_OFFSET > 65535:
        raise ConsortiumError(E.FIELD_MISSING, f"{where}: rpc_port {rpc} + {ADMIN_PORT_OFFSET} is no port: "
                                               "give admin_port")
    admin = _port(raw, "admin_port", where) if raw.get("admin_port") is not None else rpc + ADMIN_PORT_OFFSET
    if admin in (p2p, rpc):
        raise ConsortiumError(E.DUPLICATE_ENDPOINT, f"{where}: admin_port {admin} is also its p2p_port or rpc_port")
    return NodeSpec(name, organisation, role, host, p2p, rpc, validator, admin)


def _check_unique(nodes: tuple[NodeSpec, ...]) -> None:
    names: dict[str, NodeSpec] = {}
    endpoints: dict[tuple[str, int], str] = {}
    for node in nodes:
        if node.name in names:
            raise ConsortiumError(E.DUPLICATE_NAME, f"node name {node.name!r} is used twice")
        names[node.name] = node
        for kind, port in (("p2p_port", node.p2p_port), ("rpc_port", node.rpc_port),
                           ("admin_port", node.admin_port)):
            key = (node.host.lower(), port)
            if key in endpoints:
                raise ConsortiumError(
                    E.DUPLICATE_ENDPOINT,
                    f"{node.host}:{port} ({node.name} {kind}) is already used by {endpoints[key]}",
                )
            endpoints[key] = f"{node.name} {kind}"


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOSTNAME_RE.match(host)) and not host.replace(".", "").isdigit()


def _no_unknown(raw: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise ConsortiumError(
            E.UNKNOWN_FIELD, f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _require(raw: dict, key: str, typ: type, where: str):
    if key not in raw or raw[key] is None:
        raise ConsortiumError(E.FIELD_MISSING, f"{where}: required field {key!r} is missing")
    if not isinstance(raw[key], typ):
        raise ConsortiumError(E.FIELD_INVALID, f"{where}: {key} must be a {typ.__name__}")
    return raw[key]


def _str(raw: dict, key: str, where: str, *, required: bool = False, default: str | None = None) -> str:
    if key not in raw or raw[key] is None:
        if required:
            raise ConsortiumError(E.FIELD_MISSING, f"{where}: required field {key!r} is missing")
        return default  # type: ignore[return-value]
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise ConsortiumError(E.FIELD_INVALID, f"{where}.{key} must be a non-empty string")
    return value.strip()


def _int(raw: dict, key: str, where: str, *, required: bool = False, default: int | None = None,
         minimum: int, maximum: int) -> int:
    if key not in raw or raw[key] is None:
        if required:
            raise ConsortiumError(E.FIELD_MISSING, f"{where}: required field {key!r} is missing")
        return default  # type: ignore[return-value]
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConsortiumError(E.FIELD_INVALID, f"{where}.{key} must be an integer, not {value!r}")
    if not minimum <= value <= maximum:
        raise ConsortiumError(E.FIELD_INVALID, f"{where}.{key} must be between {minimum} and {maximum}, not {value}")
    return value


def _port(raw: dict, key: str, where: str) -> int:
    if key not in raw or raw[key] is None:
        raise ConsortiumError(E.FIELD_MISSING, f"{where}: required field {key!r} is missing")
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConsortiumError(E.BAD_PORT, f"{where}.{key} must be an integer port 1-65535, not {value!r}")
    return value
