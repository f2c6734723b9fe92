"""Compile contracts/ with py-solc-x driving the npm `solc` (see bin/solc), into build/contracts/.

Artifacts are cached by a hash of every source (ours and OpenZeppelin's) and the compiler settings,
so nothing recompiles when no source changed.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import solcx
from solcx.wrapper import get_solc_version
from solcx.exceptions import SolcError

from ledger_node import paths
from ledger_node.errors import LedgerNodeError

CACHE_FILE = ".source-hash"


@dataclass(frozen=True)
class CompileProblem:
    file: str
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f":{self.line}:{self.column}" if self.line else "")
        return f"{where}: {self.message}"


class CompileError(LedgerNodeError):
    """The compiler refused the sources; `problems` names file, line and message of each."""

    def __init__(self, problems: list[CompileProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def settings() -> dict:
    return json.loads(paths.COMPILER_SETTINGS.read_text())


def compile_all(force: bool = False) -> dict[str, dict]:
    """Compile every contract under contracts/ unless the cached artifacts match the sources.

    Returns {contract name: artifact}. Raises CompileError with file/line/message on errors.
    """
    sources = _source_files()
    digest = _source_hash(sources)
    out = paths.build_dir()
    if not force and (out / CACHE_FILE).exists() and (out / CACHE_FILE).read_text() == digest:
        return load_all()
    artifacts = _run_compiler(sources, digest)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.json"):
        old.unlink()
    for name, artifact in artifacts.items():
        (out / f"{name}.json").write_text(json.dumps(artifact, indent=1))
    (out / CACHE_FILE).write_text(digest)
    return artifacts


def load_artifact(name: str) -> dict:
    path = paths.build_dir() / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no artifact {path}; run `citypoints compile`")
    return json.loads(path.read_text())


def load_all() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(paths.build_dir().glob("*.json"))}


def source_hash() -> str:
    return _source_hash(_source_files())


def _source_files() -> list[Path]:
    return sorted(p for p in paths.CONTRACTS_DIR.rglob("*.sol"))


def _source_hash(sources: list[Path]) -> str:
    h = hashlib.sha256()
    h.update(paths.COMPILER_SETTINGS.read_bytes())
    h.update((paths.NODE_MODULES / "@openzeppelin" / "contracts" / "package.json").read_bytes())
    for src in sources:
        h.update(str(src.relative_to(paths.ROOT)).encode())
        h.update(src.read_bytes())
    return h.hexdigest()


def standard_input(sources: list[Path] | None = None) -> dict:
    """The compiler's standard-JSON input for `sources` (default: every contract), with the pinned settings.
    Also what `make slither` analyses, so Slither sees exactly what we compile."""
    cfg = settings()
    rel = [str(s.relative_to(paths.ROOT)) for s in (sources if sources is not None else _source_files())]
    return {
        "language": "Solidity",
        "sources": {r: {"urls": [r]} for r in rel},
        "settings": {
            "optimizer": cfg["optimizer"],
            "evmVersion": cfg["evmVersion"],
            "viaIR": cfg["viaIR"],
            "remappings": [m.replace("node_modules/", "") for m in cfg["remappings"]],
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object",
                                            "storageLayout", "devdoc", "userdoc"], "": ["ast"]}},
        },
    }


def _run_compiler(sources: list[Path], digest: str) -> dict[str, dict]:
    cfg = settings()
    std_input = standard_input(sources)
    try:
        output = solcx.compile_standard(std_input, solc_binary=paths.SOLC_WRAPPER, base_path=str(paths.ROOT),
                                        allow_empty=True)
    except SolcError as exc:
        try:
            output = json.loads(exc.stdout_data or "")
        except ValueError:
            raise CompileError([CompileProblem("<compiler>", None, None, exc.message)]) from exc
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError([_problem(e) for e in errors])
    version = get_solc_version(paths.SOLC_WRAPPER, with_commit_hash=True)
    if str(version).split("+")[0] != cfg["solcVersion"]:
        raise CompileError([CompileProblem("<compiler>", None, None,
                                           f"solc {version} installed, contracts/compiler.json pins {cfg['solcVersion']}")])
    artifacts: dict[str, dict] = {}
    for source, contracts in output.get("contracts", {}).items():
        if source not in std_input["sources"]:
            continue
        for name, c in contracts.items():
            artifacts[name] = {
                "contractName": name,
                "sourcePath": source,
                "abi": c["abi"],
                "bytecode": "0x" + c["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + c["evm"]["deployedBytecode"]["object"],
                "storageLayout": c.get("storageLayout"),
                "devdoc": c.get("devdoc"),
                "userdoc": c.get("userdoc"),
                "sourceHash": digest,
                "compiler": {"version": str(version), "evmVersion": cfg["evmVersion"],
                             "optimizer": cfg["optimizer"], "viaIR": cfg["viaIR"]},
            }
    return artifacts


_LOCATION = re.compile(r"-->\s*([^:\s]+):(\d+):(\d+)")


def _problem(err: dict) -> CompileProblem:
    loc = err.get("sourceLocation") or {}
    m = _LOCATION.search(err.get("formattedMessage", ""))
    line = int(m.group(2)) if m else None
    col = int(m.group(3)) if m else None
    return CompileProblem(loc.get("file") or (m.group(1) if m else "<unknown>"), line, col,
                          f"{err.get('type', 'Error')}: {err.get('message', '')}")


if __name__ == "__main__":  # python -m ledger_node.compiler PATH: write the standard-JSON input (make slither)
    import sys

    doc = standard_input()
    doc["settings"]["outputSelection"] = {"*": {"*": ["abi", "evm.bytecode", "evm.deployedBytecode"], "": ["ast"]}}
    Path(sys.argv[1]).write_text(json.dumps(doc))
