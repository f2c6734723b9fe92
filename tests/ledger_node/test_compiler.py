import json

import pytest
import yaml

from ledger_node import compiler, paths


def test_compile_all_writesArtifactsWithAbiBytecodeAndProvenance(artifacts):
    assert artifacts, "contracts/ compiled to nothing"
    for name, art in artifacts.items():
        on_disk = json.loads((paths.build_dir() / f"{name}.json").read_text())
        assert on_disk["abi"] == art["abi"]
        assert on_disk["bytecode"].startswith("0x") and on_disk["deployedBytecode"].startswith("0x")
        assert on_disk["sourceHash"] == compiler.source_hash()
        assert on_disk["compiler"]["version"].startswith(compiler.settings()["solcVersion"] + "+")


def test_compile_all_isCachedWhenNoSourceChanged(artifacts):
    stamp = {p.name: p.stat().st_mtime_ns for p in paths.build_dir().glob("*.json")}
    compiler.compile_all()
    assert stamp == {p.name: p.stat().st_mtime_ns for p in paths.build_dir().glob("*.json")}


def test_compile_reportsFileLineAndMessage(tmp_path, monkeypatch):
    bad = paths.ROOT / ".compile-test"
    bad.mkdir(exist_ok=True)
    try:
        (bad / "Broken.sol").write_text("// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\n"
                                        "contract Broken {\n  function f() external { uint x = ; }\n}\n")
        monkeypatch.setattr(paths, "CONTRACTS_DIR", bad)
        with pytest.raises(compiler.CompileError) as info:
            compiler._run_compiler(compiler._source_files(), "test")
        problem = info.value.problems[0]
        assert problem.file.endswith("Broken.sol") and problem.line == 4
        assert "Expected primary expression" in problem.message
    finally:
        for f in bad.iterdir():
            f.unlink()
        bad.rmdir()


def test_brownie_config_pinsTheSameCompiler():
    brownie = yaml.safe_load((paths.ROOT / "brownie-config.yaml").read_text())
    pinned = compiler.settings()
    solc = brownie["compiler"]["solc"]
    assert solc["version"] == pinned["solcVersion"]
    assert solc["optimizer"] == pinned["optimizer"]
    assert brownie["compiler"]["evm_version"] == pinned["evmVersion"]
    assert solc["remappings"] == pinned["remappings"]
