"""`citypoints node backup DIR` and `citypoints node restore DIR`: a consistent copy of the embedded chain.

A backup is a directory: `genesis.json`, `engine`, `state.dump` (the newest snapshot or compacted journal),
`journal/*.wal` and `manifest.json` (size and SHA-256 of every file, the height, the engine).

While the node runs, the backup is taken by the node itself (operator channel `citypoints_backup`): block
production and snapshots pause, the journal is flushed and its length noted, then the files are copied up to
that length. Transactions are still accepted meanwhile; they land after the noted length and belong to the
next backup. When the node is stopped the files are copied as they are.

Restore refuses a damaged backup (any file whose digest differs, a state file failing its own digest, a
journal damaged in the middle), and never overwrites a chain: the current `var/chain/` is moved aside to
`var/chain.before-restore-<time>/`.

`restore --replay-journal` then puts the current journal's records after the backup's end on top (the rest of
the backup's last segment, and every later segment), so the next start replays everything journaled since the
backup: the way on from a damaged state file or journal part the backup holds a good copy of, or from a replay
that diverged when the backup holds the state that explains it. It refuses when the journal no longer reaches
back to the backup's end (a snapshot since compacted that part away) or belongs to another chain.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from ledger_node import paths

from ledger_node.node import journal, node_control, state_file
from ledger_node.node.anvil import NodeError, rpc

MANIFEST = "manifest.json"
TOP_FILES = ("genesis.json", "engine", "state.dump")


class BackupError(NodeError):
    """A backup could not be written, or a backup to restore is damaged."""


def backup(dest: Path) -> dict:
    """Back up the embedded chain to `dest` (a new or empty directory); returns the manifest."""
    dest = Path(dest).resolve()
    _check_dest(dest)
    st = node_control.status()
    if st.running:
        info = json.loads(paths.node_file().read_text())
        token = (paths.chain_dir() / "operator.token").read_text().strip()
        return rpc(f"{info['operatorUrl']}/{token}", "citypoints_backup", [str(dest)], timeout=3600)
    if not paths.chain_dir().exists():
        raise BackupError(f"no chain under {paths.chain_dir()} to back up")
    journal.repair_tail(paths.chain_dir() / "journal")
    return write_backup(paths.chain_dir(), dest, None, _height_of_saved())


async def backup_running(gw, dest: str) -> dict:
    """Inside the node: pause blocks and snapshots, note the journal's length, copy up to it."""
    dest_path = Path(dest)
    _check_dest(dest_path)
    async with gw.save_lock, gw.mine_lock:
        gw.journal.flush()
        limits = {p.name: p.stat().st_size for p in journal.segments(gw.journal.directory)}
        height = gw.state.height
        return await asyncio.get_running_loop().run_in_executor(
            None, write_backup, gw.journal.directory.parent, dest_path, limits, height)


def write_backup(chain_dir: Path, dest: Path, limits: dict[str, int] | None, height: int | None) -> dict:
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "journal").mkdir(exist_ok=True)
    files: dict[str, dict] = {}
    for name in TOP_FILES:
        if (chain_dir / name).exists():
            files[name] = _copy(chain_dir / name, dest / name, None)
    for seg in journal.segments(chain_dir / "journal"):
        if limits is not None and seg.name not in limits:
            continue  # a segment opened after the noted point
        files[f"journal/{seg.name}"] = _copy(seg, dest / "journal" / seg.name, limits and limits[seg.name])
    engine = (chain_dir / "engine").read_text().strip() if (chain_dir / "engine").exists() else "anvil"
    manifest = {"format": "citypoints-chain-backup 1", "createdAt": int(time.time()), "engine": engine,
                "height": height, "files": files}
    paths.write_synced(dest / MANIFEST, json.dumps(manifest, indent=1).encode())
    return manifest


def restore(src: Path, *, replay_journal: bool = False) -> str:
    """Replace var/chain/ with the backup in `src` (the node must be stopped). Returns what was done.

    `replay_journal`: then append the current journal's records after the backup's end (see the module's doc)."""
    src = Path(src).resolve()
    if node_control.status().running:
        raise BackupError("the node is running; stop it first (`citypoints node stop`)")
    manifest = verify(src)
    chain = paths.chain_dir()
    after, replayed = (journal_after_backup(src, chain) if replay_journal else ({}, ""))
    moved = ""
    if chain.exists() and any(chain.iterdir()):
        aside = chain.with_name(f"chain.before-restore-{time.strftime('%Y%m%d-%H%M%S')}")
        chain.rename(aside)
        moved = f"; the previous chain was moved to {aside}"
    (chain / "journal").mkdir(parents=True, exist_ok=True)
    for name in manifest["files"]:
        shutil.copyfile(src / name, chain / name)
    for name, data in after.items():
        with open(chain / "journal" / name, "ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    paths.fsync_dir(chain / "journal")
    return (f"restored the {manifest['engine']} chain at block {manifest['height']} "
            f"({len(manifest['files'])} files){replayed}{moved}; start it with `citypoints node start`")


def journal_after_backup(src: Path, chain: Path) -> tuple[dict[str, bytes], str]:
    """The current journal's bytes after the backup's end: segment name -> bytes to append (or a whole later
    segment), and a sentence saying what they hold. Raises BackupError when they cannot continue the backup."""
    jdir = chain / "journal"
    if not jdir.exists() or not journal.segments(jdir):
        raise BackupError(f"--replay-journal: there is no journal under {jdir} to replay on top of the backup")
    if (src / "genesis.json").exists() and (chain / "genesis.json").exists() and \
            (src / "genesis.json").read_bytes() != (chain / "genesis.json").read_bytes():
        raise BackupError("--replay-journal: the backup is of another chain (its genesis.json differs)")
    ends = {seg.name: seg.stat().st_size for seg in journal.segments(src / "journal")}
    if ends:
        end_name = max(ends)
        end_seg, end_size = journal.segment_number(Path(end_name)), ends[end_name]
    else:
        end_seg, end_size = state_file.read_meta(src / "state.dump")[1].segment, 0
    current = {journal.segment_number(p): p for p in journal.segments(jdir)}
    later = sorted(n for n in current if n > end_seg)
    if end_seg not in current and later:
        raise BackupError(f"--replay-journal: the journal no longer reaches back to the backup's end (segment "
                          f"{end_seg}, byte {end_size}): a snapshot since the backup compacted that part into "
                          f"var/chain/state.dump; take a newer backup, or `citypoints node start --accept-replay`")
    out: dict[str, bytes] = {}
    records: list[dict] = []
    last = max(current)
    for n in ([end_seg] if end_seg in current else []) + later:
        path = current[n]
        data = path.read_bytes()
        base = end_size if n == end_seg else 0
        if len(data) < base:
            raise BackupError(f"--replay-journal: {path} is shorter ({len(data)} bytes) than the backup's copy "
                              f"({base} bytes): this journal does not continue the backup")
        try:
            res = journal.scan_bytes(data[base:], path, base)
        except journal.JournalCorrupt as exc:
            raise BackupError(f"--replay-journal: the journal after the backup's end (segment {end_seg}, byte "
                              f"{end_size}) does not read as records: {exc}") from exc
        if res.torn_bytes and n != last:
            raise BackupError(f"--replay-journal: {res.problem}, in a closed segment; run "
                              f"`citypoints node repair-journal` first")
        out[path.name] = data[base:res.good_bytes]
        records += res.records
    txs = sum(1 for r in records if r.get("k") == "tx")
    blocks = sum(1 for r in records if r.get("k") == "block")
    for r in records:
        if r.get("k") in ("tx", "carry"):
            journal.transaction_hash(r["raw"])  # each must be a transaction (a wrong boundary would not parse this far)
    return out, (f"; then the journal after the backup's end (segment {end_seg}, byte {end_size}) on top: "
                 f"{len(records)} records, {txs} transactions, {blocks} blocks, replayed when the node starts")


def verify(src: Path) -> dict:
    """Check every file of a backup against its manifest and its own format; raise BackupError if damaged."""
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except (FileNotFoundError, ValueError) as exc:
        raise BackupError(f"{src} is not a CityPoints chain backup (no readable {MANIFEST})") from exc
    for name, meta in manifest["files"].items():
        path = src / name
        if not path.exists():
            raise BackupError(f"backup is missing {name}")
        if path.stat().st_size != meta["size"] or _sha256(path) != meta["sha256"]:
            raise BackupError(f"backup file {name} is damaged (size or SHA-256 differs from the manifest)")
    if (src / "state.dump").exists():
        try:
            state_file.read_meta(src / "state.dump")
        except state_file.CorruptState as exc:
            raise BackupError(f"backup: {exc}") from exc
    for seg in journal.segments(src / "journal"):
        try:
            res = journal.scan(seg)
        except journal.JournalCorrupt as exc:
            raise BackupError(f"backup: {exc}") from exc
        if res.torn_bytes:
            raise BackupError(f"backup: {res.problem}")
    return manifest


def _check_dest(dest: Path) -> None:
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} exists and is not empty; give a new directory")


def _copy(src: Path, dst: Path, limit: int | None) -> dict:
    h = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        remaining = limit
        while True:
            chunk = fin.read(8 << 20 if remaining is None else min(8 << 20, remaining))
            if not chunk:
                break
            fout.write(chunk)
            h.update(chunk)
            size += len(chunk)
            if remaining is not None:
                remaining -= len(chunk)
                if remaining <= 0:
                    break
        fout.flush()
        os.fsync(fout.fileno())
    return {"size": size, "sha256": h.hexdigest()}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def _height_of_saved() -> int | None:
    try:
        return state_file.read_meta(paths.chain_dir() / "state.dump")[1].block_number
    except (FileNotFoundError, state_file.CorruptState):
        return None
