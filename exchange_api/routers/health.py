from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from exchange_api.deps import RT, ReadRT
from exchange_api.metrics import REGISTRY

router = APIRouter(tags=["health"])
reads = APIRouter(tags=["health"])  # the read process's own (read_replica.py): the front routes these paths to it
FOLLOW_STALE_S = 5.0  # the read process's cursor read older than this: not ready (its follower is stuck)


@router.get("/health/live", operation_id="live")
async def live():
    return {"status": "ok"}


@router.get("/health/ready", operation_id="ready")
async def ready(rt: RT):
    """Ready when the database and the node answer and this process holds the relayer's lease; reports the
    indexer's lag."""
    checks = {}
    try:
        await rt.store.run(lambda s: s.execute(text("SELECT 1")))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = type(exc).__name__
    try:
        await rt.chain.block_number()
        checks["node"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["node"] = type(exc).__name__
    checks["relayer"] = "ok" if rt.lease.held else "lease_not_held"
    ok = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ok else "unavailable", "checks": checks,
            "indexer": {"block": rt.indexer.block, "head": rt.indexer.head, "lagBlocks": rt.indexer.lag},
            "relayer": {"accounts": len(rt.relayer.accounts), "inFlight": rt.relayer.in_flight}}
    return JSONResponse(body, 200 if ok else 503)


@router.get("/metrics", operation_id="metrics", include_in_schema=False)
async def metrics():
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@reads.get("/health/reads", operation_id="readsReady", include_in_schema=False)
async def reads_ready(rt: ReadRT):
    """The read process: ready when the database answers and it has followed the indexer's cursor lately; reports
    the block its answers are as of."""
    checks = {}
    try:
        await rt.store.run(lambda s: s.execute(text("SELECT 1")))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = type(exc).__name__
    follower = rt.follower
    fresh = follower.followed_at is not None and time.monotonic() - follower.followed_at < FOLLOW_STALE_S
    checks["indexFollower"] = "ok" if fresh else "stale"
    ok = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ok else "unavailable", "checks": checks,
            "indexer": {"block": follower.block, "head": follower.head, "lagBlocks": follower.lag}}
    return JSONResponse(body, 200 if ok else 503)


@reads.get("/metrics/reads", operation_id="readsMetrics", include_in_schema=False)
async def reads_metrics():
    """The read process's own metrics (its requests' latency, its event loop's lag)."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
