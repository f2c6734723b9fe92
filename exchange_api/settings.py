"""The API's settings: environment variables with the prefix CITYPOINTS_ (pydantic-settings), checked at start-up.

A bad value stops the service before it answers anything (fail fast). Secrets (the PII encryption key, the
identity HMAC key, relayer and onboarding keys) come from the environment. `dev_secrets` is off by default: the
service refuses to start without them (`Settings.missing_secrets`, checked by `citypoints serve`). With
`CITYPOINTS_DEV_SECRETS=true` (the demo city: `make up` sets it) the missing ones are created once under
var/keys/api/ (owner-only files), and the relayer/onboarding keys fall back to the demo city's accounts in
var/demo.json.
"""
from __future__ import annotations

import base64
import ipaddress
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger_node import paths


def default_database_url() -> str:
    return f"sqlite:///{paths.var_dir() / 'api' / 'citypoints.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYPOINTS_", extra="ignore", frozen=True)

    database_url: str = Field(default_factory=default_database_url)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    public_url: str | None = None  # how clients reach the API (QR payloads); default http://host:port
    deployment_file: Path = Field(default_factory=paths.deployment_file)
    rpc_url: str | None = None  # default: the deployment's rpcUrl

    # Secrets (base64 for keys, 0x-hex for accounts). Never logged.
    pii_key: SecretStr | None = None  # 32 bytes, AES-256-GCM for residents' personal data
    identity_hmac_key: SecretStr | None = None  # >= 32 bytes, HMAC-SHA256 of identity numbers
    relayer_keys: SecretStr | None = None  # comma-separated private keys, each holding RELAYER_ROLE
    onboarding_key: SecretStr | None = None  # private key holding ONBOARDING_ROLE
    dev_secrets: bool = False  # demo only: create missing keys under var/keys/api/, accounts from var/demo.json

    # Behaviour
    confirm_timeout_s: float = Field(30.0, gt=0)
    request_ttl_s: int = Field(900, ge=30)  # redemption requests: deadline of the consent they ask for
    rate_limit_per_s: float = Field(200.0, gt=0)
    rate_limit_burst: int = Field(400, ge=1)
    # signed proposal approvals the console relays, per client address (each is a transaction once valid)
    governance_approvals_per_min: int = Field(30, ge=1, le=6000)
    # shops' applications to accept points (public: POST /v1/merchant_applications), per client address
    merchant_applications_per_hour: int = Field(10, ge=1, le=100_000)
    redeem_gas: int = Field(1_500_000, ge=100_000)
    # an intent's simulation on the node (an exchange's; a redemption's while the index lacks the head's block)
    # waits this long; a node that has not answered by then (a state snapshot pauses the engine for seconds at city
    # scale) does not refuse the resident: an exchange is relayed unchecked, a redemption admitted on the indexed
    # view when it is at most ADMIT_LAG_BLOCKS behind, and the chain checks them (services/exchanges.py and
    # services/redemptions.py submit)
    simulation_wait_s: float = Field(2.0, gt=0, le=60)
    # the registration office residents visit (the onboarding account's holder): its name as residents see it when
    # it starts a recovery of their key (services/recoveries.py); unset: its address is shown
    onboarding_office_name: str | None = Field(None, min_length=1, max_length=100)

    # Indexer
    indexer_enabled: bool = True
    indexer_poll_s: float = Field(0.2, gt=0)
    indexer_range: int = Field(2000, ge=1)
    # the read process (read_replica.py) sees the indexer's commits by polling its cursor this often
    read_replica_poll_s: float = Field(0.05, gt=0, le=5)

    # Webhooks, residents' sessions (privacy): no requests to internal addresses, no secrets in clear
    webhook_tolerance_s: int = Field(300, ge=1)
    webhook_max_attempts: int = Field(8, ge=1)
    webhook_backoff_s: float = Field(1.0, gt=0)
    webhook_timeout_s: float = Field(5.0, gt=0)  # a whole delivery: resolve, connect, send, first answer
    webhook_allow_http: bool = False  # development only: plain http:// webhook URLs
    # development / on-premises only: deliver to private, loopback, link-local, CGNAT, ... addresses
    webhook_allow_private_targets: bool = False
    webhook_max_in_flight: int = Field(64, ge=1)  # deliveries at once, at most one per endpoint
    resident_login_window_s: int = Field(120, ge=10)  # a signed login's issuedAt: this close to now
    resident_token_ttl_s: int = Field(300, ge=30, le=3600)  # a resident's bearer token lives this long

    # the point-of-sale page's sign-in (POST /v1/pos/session): how long its session cookie acts for the key
    pos_session_ttl_s: int = Field(8 * 3600, ge=60, le=7 * 86400)
    # server-sent event streams of payment requests (the POS page's live status) open at once, per API key
    pos_streams_per_key: int = Field(20, ge=1, le=1000)

    offers_per_merchant: int = Field(500, ge=1)  # offers not deleted a merchant may have (409 beyond)
    # where the auditor publishes its signed reports (`citypoints audit --attest`, the demo: var/audit/report-N.json):
    # the wallet's balance check serves a resident's lines and Merkle proofs from the last attested one
    audit_dir: Path = Field(default_factory=lambda: paths.var_dir() / "audit")

    # Request limits: every bad or abusive request is bounded and answered 4xx in the error shape
    max_body_bytes: int = Field(1024 * 1024, ge=1024)  # larger bodies: 413 before more is read
    auth_failures_per_min: int = Field(10, ge=1)  # wrong API keys a source may send a minute; then 429
    auth_failure_sources: int = Field(10_000, ge=16)  # sources the failure limiter remembers (LRU beyond)
    # addresses or CIDR networks of reverse proxies whose X-Forwarded-For names the client; empty (the
    # default): X-Forwarded-For is ignored and the connection's address is the client's
    trusted_proxies: str = ""

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: str) -> str:
        import ipaddress
        for item in filter(None, (p.strip() for p in v.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"CITYPOINTS_TRUSTED_PROXIES: {item!r} is not an IP address or network") from None
        return v

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, v: str) -> str:
        if v.startswith("postgres://"):
            v = "postgresql://" + v[len("postgres://"):]
        if v.startswith("postgresql://"):
            v = "postgresql+psycopg://" + v[len("postgresql://"):]
        if not (v.startswith("sqlite:") or v.startswith("postgresql+psycopg://")):
            raise ValueError("CITYPOINTS_DATABASE_URL must be sqlite:///path or postgresql://...")
        return v

    @field_validator("pii_key")
    @classmethod
    def _pii_key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(_b64(v.get_secret_value(), "CITYPOINTS_PII_KEY")) != 32:
            raise ValueError("CITYPOINTS_PII_KEY must be 32 bytes, base64")
        return v

    @field_validator("identity_hmac_key")
    @classmethod
    def _hmac_key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(_b64(v.get_secret_value(), "CITYPOINTS_IDENTITY_HMAC_KEY")) < 32:
            raise ValueError("CITYPOINTS_IDENTITY_HMAC_KEY must be at least 32 bytes, base64")
        return v

    @field_validator("relayer_keys", "onboarding_key")
    @classmethod
    def _account_keys(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            for key in v.get_secret_value().split(","):
                key = key.strip().removeprefix("0x")
                if len(key) != 64 or any(c not in "0123456789abcdefABCDEF" for c in key):
                    raise ValueError("account keys must be 32-byte hex private keys (comma-separated)")
        return v

    def missing_secrets(self) -> list[str]:
        """The environment variables the service needs and does not have (none with dev_secrets). Commands that
        only read the store (`citypoints merchant ...`, migrations) do not need them."""
        if self.dev_secrets:
            return []
        return ["CITYPOINTS_" + n.upper() for n in ("pii_key", "identity_hmac_key", "relayer_keys")
                if getattr(self, n) is None]

    def require_secrets(self) -> None:
        missing = self.missing_secrets()
        if missing:
            raise RuntimeError("missing secrets: set " + ", ".join(missing) + " (and CITYPOINTS_ONBOARDING_KEY to "
                               "register residents), or CITYPOINTS_DEV_SECRETS=true for a demo on this machine")

    # -- resolved values --------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    def public_url_problem(self) -> str | None:
        """Why the links and QR codes this service makes (`base_url`) would not reach it, or None: it listens on
        an address other machines reach (`host` not loopback) while `base_url` names a loopback or unspecified
        address (CITYPOINTS_PUBLIC_URL unset, or set to one) that a customer's phone cannot open."""
        if _local(self.host):
            return None
        named = urlparse(self.base_url).hostname or ""
        if not (_local(named) or _unspecified(named)):
            return None
        return (f"serving on {self.host} (reachable from other machines) while the links and QR codes it makes would "
                f"point at {self.base_url}, which a customer's phone cannot open: set CITYPOINTS_PUBLIC_URL to the "
                f"address phones reach this service at (e.g. https://pay.example.city)")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def deployment(self) -> dict:
        try:
            return json.loads(Path(self.deployment_file).read_text())
        except FileNotFoundError:
            raise RuntimeError(f"no deployment at {self.deployment_file}: run `citypoints deploy` first") from None

    def pii_key_bytes(self) -> bytes:
        return _b64(self._secret("pii_key", 32), "pii_key")

    def identity_key_bytes(self) -> bytes:
        return _b64(self._secret("identity_hmac_key", 32), "identity_hmac_key")

    def relayer_private_keys(self) -> list[str]:
        if self.relayer_keys is not None:
            return [k.strip() for k in self.relayer_keys.get_secret_value().split(",") if k.strip()]
        if not self.dev_secrets:
            raise RuntimeError("CITYPOINTS_RELAYER_KEYS is not set")
        return [a["privateKey"] for a in _demo().get("relayers", [])]

    def onboarding_private_key(self) -> str | None:
        if self.onboarding_key is not None:
            return self.onboarding_key.get_secret_value()
        if not self.dev_secrets:
            return None  # registering residents answers 503 onboarding_not_configured
        found = _demo().get("onboarding", [])
        return found[0]["privateKey"] if found else None

    def _secret(self, name: str, size: int) -> str:
        value = getattr(self, name)
        if value is not None:
            return value.get_secret_value()
        if not self.dev_secrets:
            raise RuntimeError(f"CITYPOINTS_{name.upper()} is not set")
        path = paths.keys_dir() / "api" / f"{name}.b64"
        if not path.exists():
            path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(base64.b64encode(secrets.token_bytes(size)).decode())
        return path.read_text().strip()


def _local(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def _b64(text: str, name: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except Exception:
        raise ValueError(f"{name} is not valid base64") from None


def _demo() -> dict:
    try:
        return json.loads(paths.demo_file().read_text())
    except FileNotFoundError:
        return {}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
