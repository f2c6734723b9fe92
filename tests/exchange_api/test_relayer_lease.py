"""One service process relays for a store: a second refuses to start and says who relays; a holder that dies
(kill -9) leaves the lease to the next; a service that lost it (PostgreSQL session ended, another took it)
relays nothing and says so."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, text

from exchange_api.relayer_lease import LeaseHeld, RelayerLease
from exchange_api.runtime import Runtime
from exchange_api.store.db import Store

from .conftest import PG_ADMIN, auth

HOLD = """
import sys, time
from exchange_api.relayer_lease import RelayerLease
from exchange_api.store.db import Store
lease = RelayerLease(Store(sys.argv[1]))
lease.acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_secondService_onTheSameStore_refusesToStartAndNamesWhoRelays(live):
    second = Runtime(live.settings)

    async def start_then_stop():
        try:
            await second.start(background=False)
        finally:
            await second.stop()
    with pytest.raises(LeaseHeld) as refused:
        asyncio.run(start_then_stop())
    message = str(refused.value)
    assert "another CityPoints service" in message and "stop it first" in message
    if live.settings.database_url.startswith("sqlite"):
        assert f"pid {os.getpid()}" in message  # the live service runs in this process
    else:
        assert "PostgreSQL backend pid" in message
    assert live.rt.lease.held  # the first one still relays


def test_lease_ofAHolderKilled9_goesToTheNext(empty_database_url):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, empty_database_url], stdout=subprocess.PIPE, text=True)
    store = Store(empty_database_url)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LeaseHeld) as refused:
            RelayerLease(store).acquire()
        if empty_database_url.startswith("sqlite"):
            assert f"pid {holder.pid}" in str(refused.value)
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        lease = RelayerLease(store)
        deadline = time.monotonic() + 10
        while True:  # PostgreSQL ends the dead client's session as soon as it sees the socket closed
            try:
                lease.acquire()
                break
            except LeaseHeld:
                assert time.monotonic() < deadline, "the dead holder's lease was never released"
                time.sleep(0.1)
        assert lease.held
        lease.release()
    finally:
        holder.kill()
        store.dispose()


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)  # SQLite's flock has no session
def test_lease_postgresSessionEnded_takenAgain_unlessAnotherTookIt(empty_database_url):
    store, other_store = Store(empty_database_url), Store(empty_database_url)
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    lease, other = RelayerLease(store), RelayerLease(other_store)

    def end_session(of: RelayerLease):
        backend = of._conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with admin.connect() as conn:
            # wait until the backend is gone (and its lock with it): that is what a restart of the database does
            assert conn.execute(text("SELECT pg_terminate_backend(:p, 10000)"), {"p": backend}).scalar()
    try:
        lease.acquire()
        assert lease.check()
        # the database ended the session (a restart does that): nobody else wants it, so it is taken again
        end_session(lease)
        assert lease.check() and lease.held
        # ended again, and another process took the lease meanwhile: this one stops relaying
        end_session(lease)
        other.acquire()
        assert not lease.check()
        with pytest.raises(Exception) as unavailable:
            lease.require()
        assert getattr(unavailable.value, "code", None) == "relayer_unavailable"
        # the other one stops: the lease comes back at the next check
        other.release()
        assert lease.check() and lease.held
    finally:
        lease.release()
        other.release()
        store.dispose()
        other_store.dispose()
        admin.dispose()


def test_serviceWithoutTheLease_refusesRedemptionsWith503_andIsNotReady(api, w3, api_city, keys, live):
    live.rt.lease.held = False
    try:
        resp = api.post("/v1/redemptions", json=api_city.consent(w3, api_city.residents[0], 5),
                        headers=auth(keys["merchant"]))
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "relayer_unavailable"
        ready = api.get("/health/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["relayer"] == "lease_not_held"
    finally:
        live.rt.lease.held = True
    # nothing was held back for the refused redemption: the same consent goes through once the lease is back
    assert live.rt.holds.held(api_city.residents[0].address) == (0, 0)
    assert api.get("/health/ready").status_code == 200
