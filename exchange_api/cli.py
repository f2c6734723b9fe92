"""Typer commands the integrator registers in scripts/cli.py:

    from exchange_api.cli import serve_cmd, index_cmd, merchant_app, residents_app
    app.command("serve")(serve_cmd)
    app.command("index")(index_cmd)
    app.add_typer(merchant_app, name="merchant")
    app.add_typer(residents_app, name="residents")   # the office's `residents recover start|status|complete|cancel`
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)
START_TIMEOUT_S = 90  # `serve --detach`: until the API and read processes answer ready through the front
STOP_TIMEOUT_S = 45  # `serve --stop`: the front's in-flight requests, then each process's own stop
merchant_app = typer.Typer(help="Merchants' API keys (shown once, stored hashed, revocable).", no_args_is_help=True)


def _settings():
    from pydantic import ValidationError

    from exchange_api.settings import Settings
    try:
        return Settings()
    except ValidationError as exc:
        for e in exc.errors():
            err.print(f"[red]setting error:[/red] {'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}")
        raise typer.Exit(2)


def _pid_file():
    from ledger_node import paths
    return paths.var_dir() / "api" / "api.pid"


def serve_cmd(detach: bool = typer.Option(False, "--detach", help="Start in the background; wait until ready."),
              stop: bool = typer.Option(False, "--stop", help="Stop a service started with --detach."),
              host: str = typer.Option(None, help="Listen address (default CITYPOINTS_HOST or 127.0.0.1)."),
              port: int = typer.Option(None, help="Port (default CITYPOINTS_PORT or 8000).")):
    """Run the HTTP API (merchants, residents, onboarding, auditors) with its indexer and relayer, and the wallet's
    reads in a process of their own, behind one port (exchange_api/service.py)."""
    if stop:
        raise typer.Exit(_stop())
    settings = _settings()
    missing = settings.missing_secrets()
    if missing:
        err.print("[red]not starting: missing secrets.[/red] Set " + ", ".join(missing)
                  + " (base64 keys: 32 random bytes each; relayer keys: comma-separated 0x-hex private keys with "
                  "RELAYER_ROLE; CITYPOINTS_ONBOARDING_KEY to register residents), or CITYPOINTS_DEV_SECRETS=true "
                  "for a demo on this machine (keys created under var/keys/api/, accounts from var/demo.json).",
                  soft_wrap=True)
        raise typer.Exit(2)
    host = host or settings.host
    port = port or settings.port
    settings = settings.model_copy(update={"host": host, "port": port})  # the links it makes name where it listens
    problem = settings.public_url_problem()
    if problem:
        err.print(f"[red]not starting:[/red] {problem}.", soft_wrap=True)
        raise typer.Exit(2)
    os.umask(0o077)  # what the service creates (database, its log, its pid file, its sockets) is its owner's only
    _private_dir(_pid_file().parent)
    url = f"http://{host}:{port}"
    if not detach:
        from exchange_api import service
        raise typer.Exit(service.run(settings))
    if _ready(url):
        console.print(f"already running: {url}")
        return
    log = _pid_file().parent / "api.log"
    with open_private_log(log) as out:
        # the processes read their settings from the environment (CITYPOINTS_*), host and port as given here
        proc = subprocess.Popen([sys.executable, "-m", "exchange_api.service"], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, "CITYPOINTS_HOST": host, "CITYPOINTS_PORT": str(port)})
    _pid_file().write_text(str(proc.pid))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err.print(f"[red]the API exited ({proc.returncode}); see {log}[/red]")
            raise typer.Exit(1)
        if _ready(url):
            console.print(url)
            return
        time.sleep(0.2)
    err.print(f"[red]the API did not become ready within {START_TIMEOUT_S} s; see {log}[/red]")
    raise typer.Exit(1)


def open_private_log(path):
    """The service's log, for appending: created 0600 (tightened if an earlier version made it 0644) in a 0700
    folder (request paths and errors name residents' addresses)."""
    _private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.chmod(path, 0o600)
    return os.fdopen(fd, "ab")


def _private_dir(path) -> None:
    """var/api/ (database, log, pid file): 0700, tightened when an earlier version made it 0755."""
    path.mkdir(parents=True, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)


def _ready(url: str) -> bool:
    """The API process ready (database, node, relayer's lease) and the read process ready (database, following the
    indexer), both through the front."""
    try:
        for path in ("/health/ready", "/health/reads"):
            with urllib.request.urlopen(url + path, timeout=1) as r:
                if r.status != 200:
                    return False
        return True
    except Exception:  # noqa: BLE001
        return False


def _stop() -> int:
    path = _pid_file()
    if not path.exists():
        console.print("not running (no pid file)")
        return 0
    pid = int(path.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        path.unlink()
        console.print("not running (stale pid file removed)")
        return 0
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:  # the front stops taking requests, then both processes stop
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    path.unlink(missing_ok=True)
    console.print(f"stopped (pid {pid})")
    return 0


def index_cmd(rebuild: bool = typer.Option(False, "--rebuild", help="Drop the indexer's tables and start again."),
              follow: bool = typer.Option(False, "--follow", help="Keep following new blocks.")):
    """Bring the indexer's tables (events, balances, positions, ...) up to the chain head."""
    import asyncio

    from exchange_api.indexer import run_cli
    try:
        asyncio.run(run_cli(_settings(), rebuild=rebuild, follow=follow, echo=console.print))
    except KeyboardInterrupt:
        pass


def _store():
    from exchange_api.store.db import Store
    store = Store(_settings().database_url)
    store.migrate()
    return store


@merchant_app.command("create-key")
def create_key_cmd(address: str = typer.Argument(None, help="The merchant's account (merchant keys) or the "
                                                               "issuer's account on chain (issuer keys)."),
                   name: str = typer.Option(..., "--name", help="A label, e.g. the shop's name."),
                   role: str = typer.Option("merchant", "--role", help="merchant | onboarding | auditor | issuer"),
                   scope: str = typer.Option("manager", "--scope", help="a merchant key's staff scope: manager "
                                                                        "(everything) | cashier (sales)")):
    """Create an API key and print it once (only its hash is kept)."""
    from exchange_api.merchant_keys import create_key
    store = _store()
    try:
        with store.session() as s:
            created = create_key(s, name=name, merchant_address=address if role == "merchant" else None, role=role,
                                 account=address if role == "issuer" else None, scope=scope)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)
    party = created.merchant or created.account
    console.print(f"key id {created.id} ({created.role}{', ' + created.scope if created.scope else ''}"
                  f"{' for ' + party if party else ''})")
    console.print("API key (shown once, store it now):")
    print(created.api_key)


@merchant_app.command("revoke-key")
def revoke_key_cmd(key: str = typer.Argument(..., help="The key id (key_...) or the key's first 12 characters.")):
    """Revoke an API key (within 5 s in a running service)."""
    from exchange_api.merchant_keys import revoke_key
    store = _store()
    with store.session() as s:
        found = revoke_key(s, key)
    if not found:
        err.print("[red]no such key[/red]")
        raise typer.Exit(1)
    console.print("revoked")


@merchant_app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json")):
    """List API keys (ids, roles, merchants, prefixes; never the keys)."""
    from exchange_api.merchant_keys import list_keys
    store = _store()
    with store.session() as s:
        keys = list_keys(s)
    if as_json:
        print(json.dumps(keys))
        return
    for k in keys:
        console.print(f"{k['id']}  {k['role']:<10} {k['scope'] or '-':<8} {k['prefix']}…  "
                      f"{k['merchant'] or '-':<42} {k['name']}"
                      f"{'  [red]revoked[/red]' if k['revoked'] else ''}")


@merchant_app.command("import-demo")
def import_demo_cmd():
    """Register the demo merchants' keys, shop profiles and offers from var/demo.json (demo city only)."""
    from exchange_api.demo_catalogue import import_demo_catalogue
    from exchange_api.merchant_keys import import_demo_keys
    from ledger_node import paths
    store = _store()
    with store.session() as s:
        demo = json.loads(paths.demo_file().read_text())
        n = import_demo_keys(s, demo)
        profiles, offers = import_demo_catalogue(s, demo)
    console.print(f"{n} demo merchant keys registered; {profiles} shop profiles, {offers} new offers in the catalogue")


# -- the registration office: key recovery (an HTTP client of the API, with an onboarding API key) ---------------

residents_app = typer.Typer(help="Residents at the registration office.", no_args_is_help=True)
recover_app = typer.Typer(help="Move a resident's registration and balances to a new key after the notice period "
                               "(the old key may object meanwhile).", no_args_is_help=True)
residents_app.add_typer(recover_app, name="recover")
API_OPT = typer.Option(None, "--api", help="The API's URL (default CITYPOINTS_PUBLIC_URL, else http://host:port).")
KEY_OPT = typer.Option(..., "--key", envvar="CITYPOINTS_OFFICE_API_KEY", show_envvar=True,
                       help="The office's onboarding API key (citypoints merchant create-key --role onboarding).")
JSON_OPT = typer.Option(False, "--json", help="Print the API's answer as JSON.")


def _office_call(method: str, path: str, api: str | None, key: str | None, body: dict | None = None) -> dict:
    """One request to the API; an error answer is printed (its code and message) and exits 1."""
    import httpx
    url = (api or _settings().base_url).rstrip("/") + "/v1/recoveries" + path
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        resp = httpx.request(method, url, json=body, headers=headers, timeout=60)
    except httpx.HTTPError as exc:
        err.print(f"[red]error:[/red] the API at {url} cannot be reached: {exc}")
        raise typer.Exit(2)
    data = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    if resp.status_code >= 400:
        e = data.get("error", {})
        err.print(f"[red]refused ({resp.status_code} {e.get('code', '?')}):[/red] {e.get('message', resp.text[:200])}")
        raise typer.Exit(1)
    return data


def _show_recovery(r: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(r))
        return
    by = r.get("startedBy") or {}
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(r["executableAt"]))
    console.print(f"recovery of {r['account']} -> {r['newAccount']}: [bold]{r['state']}[/bold]")
    console.print(f"  started by {by.get('name') or by.get('address') or '(not indexed yet)'}; "
                  f"{'may complete from' if r['state'] == 'pending' else 'notice ended'} {when}"
                  f"{' (executable now)' if r.get('executable') else ''}")
    if r.get("txHash"):
        console.print(f"  transaction {r['txHash']}")


@recover_app.command("start")
def recover_start_cmd(new_account: str = typer.Argument(..., help="The resident's NEW key's address (0x...)."),
                      name: str = typer.Option(..., "--name", prompt=True, help="As on the identity papers."),
                      identity_number: str = typer.Option(..., "--identity-number", prompt=True, hide_input=True,
                                                          help="Asked for when not given (not echoed)."),
                      phone: str = typer.Option(..., "--phone", prompt=True),
                      api: str = API_OPT, key: str = KEY_OPT, as_json: bool = JSON_OPT):
    """Start a recovery for the resident in front of you (identity papers checked) toward their new key."""
    body = {"name": name, "identityNumber": identity_number, "phone": phone, "newAccount": new_account}
    _show_recovery(_office_call("POST", "", api, key, body), as_json)


@recover_app.command("status")
def recover_status_cmd(account: str = typer.Argument(..., help="The resident's account (the old key)."),
                       api: str = API_OPT, as_json: bool = JSON_OPT):
    """The latest recovery of an account: pending, objected, cancelled or completed."""
    _show_recovery(_office_call("GET", f"/{account}", api, None), as_json)


@recover_app.command("complete")
def recover_complete_cmd(account: str = typer.Argument(..., help="The resident's account (the old key)."),
                         api: str = API_OPT, key: str = KEY_OPT, as_json: bool = JSON_OPT):
    """Complete a recovery whose notice is over: registration and balances move to the new key."""
    _show_recovery(_office_call("POST", f"/{account}/complete", api, key), as_json)


@recover_app.command("cancel")
def recover_cancel_cmd(account: str = typer.Argument(..., help="The resident's account (the old key)."),
                       api: str = API_OPT, key: str = KEY_OPT, as_json: bool = JSON_OPT):
    """Cancel a pending recovery (one started by mistake)."""
    _show_recovery(_office_call("POST", f"/{account}/cancel", api, key), as_json)
