// Hardhat node settings for the embedded chain's engine (ledger_node/node/engine.py passes them in
// CITYPOINTS_ENGINE_SETTINGS). Mining is on demand only: the node's gateway mines each block at a
// journaled timestamp. Transactions leave the pool first in, first out, so a replay of the journal
// builds the very same blocks.
const s = JSON.parse(process.env.CITYPOINTS_ENGINE_SETTINGS || "{}");
const accounts = Object.entries(s.alloc || {}).map(([privateKey, balance]) => ({ privateKey, balance }));

module.exports = {
  paths: { cache: s.cache || require("os").tmpdir() + "/citypoints-hardhat-cache", sources: __dirname + "/.no-sources" },
  networks: {
    hardhat: {
      chainId: s.chainId || 7007,
      hardfork: s.hardfork || "prague",
      blockGasLimit: s.gasLimit || 100000000,
      initialBaseFeePerGas: 0,
      gasPrice: 0,
      initialDate: new Date((s.genesisTimestamp || 0) * 1000).toISOString(),
      mining: { auto: false, interval: 0, mempool: { order: "fifo" } },
      // Hardhat funds genesis accounts only by private key; the gateway refuses eth_sendTransaction, so
      // the engine never signs for anyone.
      accounts,
      loggingEnabled: false,
      throwOnTransactionFailures: false,
      throwOnCallFailures: false,
    },
  },
};
