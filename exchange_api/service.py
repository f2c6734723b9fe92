"""`citypoints serve`: the service's three processes, started and stopped together.

    clients ──> front (this process; host:port)  ──┬─ unix socket ──> API process   (exchange_api.app:create_app)
                 front.py: routes each request     └─ unix socket ──> read process  (exchange_api.app:create_read_app)

The API process does everything but the wallet's reads: merchants, onboarding, the relayer, the indexer, webhooks.
The read process serves the wallet's reads of the indexer's tables (read_replica.py), so a burst of redemptions does
not queue them. The processes' sockets are made here, in a fresh directory only this user can enter (0700, the
sockets 0600), and handed to them already listening (uvicorn `--fd`): nothing but the front can reach them, and no
port but the front's is open. Order: the front's port first (one in use stops the start before anything runs;
requests that come meanwhile wait in the processes' socket queues), then the API process (it migrates the store and
takes the relayer's lease), then the read process. Stop (SIGTERM or SIGINT): the front stops taking connections and
lets those in flight end, then both processes stop. A process that exits by itself stops the service (exit 1): the operator's supervisor
(systemd, `make up` again) starts it whole.

`python -m exchange_api.service` runs it (what `citypoints serve --detach` starts, with the settings in its
environment, CITYPOINTS_*).
"""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from exchange_api.errors import ApiError
from exchange_api.app import read_routes
from exchange_api.front import Backend, Front
from exchange_api.front import start as front_start
from exchange_api.front import stop as front_stop
from exchange_api.request_limits import parse_networks
from exchange_api.settings import Settings

log = logging.getLogger("citypoints.service")
logging.getLogger("httpx").setLevel(logging.WARNING)  # the start-up probes are not news

START_TIMEOUT_S = 120.0  # each process, from its start to its answer (the API migrates the store first)
STOP_TIMEOUT_S = 20.0  # each process, after SIGTERM, before SIGKILL
WATCH_S = 0.5  # how often the front looks that both processes still run
# what each process runs, and the path the front asks it until it answers (any status: it has started)
PROCESSES = {"API": ("exchange_api.app:create_app", "/health/live"),
             "read": ("exchange_api.app:create_read_app", "/health/reads")}


class ServiceFailed(ApiError):
    """A process did not start, or exited while the service ran (never an HTTP answer: `citypoints serve` prints it
    and exits; an ApiError so the package's errors have one root)."""

    status, code = 503, "service_failed"


def main() -> int:
    try:
        settings = Settings()
    except Exception as exc:  # noqa: BLE001 - `citypoints serve` checked them; say what is wrong, not a traceback
        log.error("settings: %s", exc)
        return 2
    return run(settings)


def run(settings: Settings) -> int:
    """Run the service until SIGTERM or SIGINT (0), or until a process fails (1)."""
    if not logging.getLogger().handlers:  # as uvicorn's lines, in the same log
        logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    try:
        import uvloop
        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is in requirements.lock
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        try:
            runner.run(_run(settings))
        except ServiceFailed as exc:
            log.error("the service stopped: %s", exc)
            return 1
    return 0


async def _run(settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    folder = Path(tempfile.mkdtemp(prefix="citypoints-"))  # 0700, a name nobody could guess
    paths = {name: folder / f"{name.lower()}.sock" for name in PROCESSES}
    sockets = {name: _listen(path) for name, path in paths.items()}
    processes: dict[str, subprocess.Popen] = {}
    front = Front(api=Backend("API", str(paths["API"])), reads=Backend("read", str(paths["read"])),
                  routes=read_routes(), max_body_bytes=settings.max_body_bytes,
                  trusted_proxies=parse_networks(settings.trusted_proxies))
    try:
        try:
            runner = await front_start(front, settings.host, settings.port)
        except OSError as exc:
            raise ServiceFailed(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
        try:
            for name, (factory, probe) in PROCESSES.items():
                processes[name] = _start(name, factory, sockets[name], settings)
                await asyncio.to_thread(_wait_started, name, processes[name], paths[name], probe, stop)
                if stop.is_set():
                    return
            log.info("serving on http://%s:%s (API process %s, read process %s)", settings.host, settings.port,
                     processes["API"].pid, processes["read"].pid)
            failure = await _watch(processes, stop)
        finally:
            await front_stop(front, runner)  # no new requests; those in flight end before the processes stop
        if failure is not None:
            raise ServiceFailed(failure)
    finally:
        for sock in sockets.values():
            sock.close()
        await asyncio.to_thread(_stop_all, processes)
        shutil.rmtree(folder, ignore_errors=True)


def _listen(path: Path) -> socket.socket:
    """A unix socket listening at `path`, readable and writable by this user only."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    os.chmod(path, 0o600)
    sock.listen(2048)
    return sock


def _start(name: str, factory: str, sock: socket.socket, settings: Settings) -> subprocess.Popen:
    """The process, given the listening socket (`--fd`). uvicorn's proxy headers stay off: the client's address is
    request_limits.client_address's (the front's X-Forwarded-For over this socket). Its connections from the front
    stay open longer than the front keeps them idle (front.UPSTREAM_KEEPALIVE_S), so the front never sends on one
    the process is closing."""
    fd = sock.fileno()
    env = {**os.environ, "CITYPOINTS_HOST": settings.host, "CITYPOINTS_PORT": str(settings.port)}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", factory, "--factory", "--fd", str(fd),
                             "--no-access-log", "--no-proxy-headers", "--timeout-keep-alive", "75"],
                            pass_fds=(fd,), env=env, stdin=subprocess.DEVNULL, preexec_fn=_stop_with_parent)
    sock.close()  # the process has it now: when it is gone, the front's connections are refused, not queued
    log.info("%s process started (pid %s)", name, proc.pid)
    return proc


def _wait_started(name: str, proc: subprocess.Popen, path: Path, probe: str, stop: asyncio.Event) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), base_url="http://citypoints", timeout=2) as c:
        while not stop.is_set():
            if proc.poll() is not None:
                raise ServiceFailed(f"the {name} process exited ({proc.returncode}) while starting; its log says why")
            try:
                c.get(probe)
                return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise ServiceFailed(f"the {name} process did not answer within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.1)


async def _watch(processes: dict[str, subprocess.Popen], stop: asyncio.Event) -> str | None:
    """Until `stop`; a process that exits meanwhile sets it, and says which."""
    while not stop.is_set():
        for name, proc in processes.items():
            if proc.poll() is not None:
                stop.set()
                return f"the {name} process exited ({proc.returncode})"
        await asyncio.sleep(WATCH_S)
    return None


def _stop_all(processes: dict[str, subprocess.Popen]) -> None:
    for proc in processes.values():
        if proc.poll() is None:
            proc.terminate()
    for name, proc in processes.items():
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("the %s process did not stop within %.0f s; killed", name, STOP_TIMEOUT_S)
            proc.kill()
            proc.wait()


def _stop_with_parent() -> None:
    """preexec_fn: a process gets SIGTERM when the front dies, even by `kill -9` (Linux; PR_SET_PDEATHSIG), so no
    API process is left holding the relayer's lease. (ledger_node's engine has its own with SIGKILL; exchange_api
    may not import the node.)"""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except Exception:  # noqa: BLE001 - elsewhere than Linux: the front's own stop still stops them
        pass


if __name__ == "__main__":
    sys.exit(main())
