// A proposal's calls in words, from their calldata: the sentences `citypoints gov` says for its named actions
// (ledger_node/governance/actions.py; English word for word, without the "(now ...)" the command adds from the
// chain), in English and Chinese. A call without a sentence here is shown as Contract.function and its data.
// tests/console/test_console_governance.py holds the English sentences equal to the command's.
import { AbiCoder, id as keccakText, keccak256 } from "ethers";
import { duration } from "./duration.js";
import { t, schemeName, schemeDescribed } from "../../wallet/src/i18n.js";
import * as fmt from "../../wallet/src/format.js";

const abi = AbiCoder.defaultAbiCoder();

// contract -> [signature, words key, (args) -> words vars]; the key may depend on the arguments
const scheme = (s) => (schemeDescribed(s) ? t("call.schemeNamed", { id: String(s), name: schemeName(s) })
  : t("call.scheme", { id: String(s) }));
const accounts = (list) => (list.length ? list.join(", ") : t("call.none"));
// Membership's grantable roles by id (contracts/libraries/Roles.sol: keccak256("CityPoints.<NAME>"))
const ROLES = Object.fromEntries(["MERCHANT", "AUDITOR", "ONBOARDING", "RELAYER", "OPERATOR", "LEDGER_OPERATOR"]
  .map((name) => [keccakText(`CityPoints.${name}`), name]));
const role = (id) => ROLES[String(id).toLowerCase()] || String(id);
const seconds = (s) => ({ d: duration(s), s: String(s) });
const KINDS = { 1: "valued", 2: "eligibility" }; // ISchemeRegistry.SchemeKind

const TABLE = [
  ["Consortium", "addMember(address)", () => "call.addMember", ([a]) => ({ account: a })],
  ["Consortium", "removeMember(address)", () => "call.removeMember", ([a]) => ({ account: a })],
  ["Consortium", "setThresholds(uint256,uint256)", () => "call.setThresholds",
    ([m, e]) => ({ m: String(m), e: String(e) })],
  ["Membership", "setIssuerAccounts(uint256,address[])", () => "call.setIssuerAccounts",
    ([s, list]) => ({ scheme: scheme(s), accounts: accounts([...list]) })],
  ["Membership", "registerMerchant(address)", () => "call.registerMerchant", ([a]) => ({ account: a })],
  ["Membership", "setMerchantSuspended(address,bool)", ([, on]) => (on ? "call.suspendMerchant" : "call.reinstateMerchant"),
    ([a]) => ({ account: a })],
  ["PointsLedger", "setIssuerDailyQuota(uint256,uint96)", () => "call.setIssuerDailyQuota",
    ([s, n]) => ({ scheme: scheme(s), n: fmt.points(n) })],
  ["PointsLedger", "setResidentDailyCap(uint256,uint96)", () => "call.setResidentDailyCap",
    ([s, n]) => ({ scheme: scheme(s), n: fmt.points(n) })],
  ["PointsLedger", "setExpiry(uint256,uint8)", () => "call.setExpiry",
    ([s, n]) => ({ scheme: scheme(s), n: Number(n) === 1 ? t("call.month") : t("call.months", { n: String(n) }) })],
  ["PointsLedger", "pauseScheme(uint256)", () => "call.pauseScheme", ([s]) => ({ scheme: scheme(s) })],
  ["PointsLedger", "unpauseScheme(uint256)", () => "call.resumeScheme", ([s]) => ({ scheme: scheme(s) })],
  ["PointsLedger", "retireScheme(uint256)", () => "call.retireScheme", ([s]) => ({ scheme: scheme(s) })],
  ["PointsLedger", "pauseAll()", () => "call.pauseAll", () => ({})],
  ["PointsLedger", "unpauseAll()", () => "call.resumeAll", () => ({})],
  ["Rates", "setRate(uint256,uint256)", () => "call.setRate", ([s, r]) => ({ scheme: scheme(s), r: fmt.rate(r) })],
  ["PointsLedger", "addScheme(uint256,uint96,uint96)", () => "call.addScheme",
    ([s, q, c]) => ({ scheme: scheme(s), q: fmt.points(q), c: fmt.points(c) })],
  ["Membership", "removeMerchant(address)", () => "call.removeMerchant", ([a]) => ({ account: a })],
  ["Membership", "grantRole(bytes32,address)", () => "call.grantRole", ([r, a]) => ({ role: role(r), account: a })],
  ["Membership", "revokeRole(bytes32,address)", () => "call.revokeRole", ([r, a]) => ({ role: role(r), account: a })],
  ["Membership", "setRecoveryNotice(uint64)", () => "call.setRecoveryNotice", ([s]) => seconds(s)],
  ["Consortium", "setProposalLifetime(uint64)", () => "call.setProposalLifetime", ([s]) => seconds(s)],
  ["Consortium", "cancelByGovernance(uint256)", () => "call.cancelProposal", ([id]) => ({ id: String(id) })],
  ["Redemption", "setRefundWindow(uint64)", () => "call.setRefundWindow", ([s]) => seconds(s)],
  ["Rates", "setInitialRate(uint256,uint256)", () => "call.setInitialRate",
    ([s, r]) => ({ scheme: scheme(s), r: fmt.rate(r) })],
  ["Exchange", "setPairAllowed(uint256,uint256,bool)", ([, , on]) => (on ? "call.allowPair" : "call.disallowPair"),
    ([a, b]) => ({ from: scheme(a), to: scheme(b) })],
  ["SchemeRegistry", "describeScheme(uint256,(string,string,string,string,string,bytes3,uint8))",
    () => "call.describeScheme", ([s, [zh, en, unitZh, unitEn, organisation, colour, kind]]) => ({
      id: String(s), zh, en, unitZh, unitEn, organisation, colour: `#${String(colour).slice(2)}`,
      kind: t(`call.kind.${KINDS[Number(kind)] || "none"}`) })],
  ["SchemeRegistry", "publishRules(uint256,bytes32,string)", () => "call.publishRules",
    ([s, hash, uri]) => ({ scheme: scheme(s), hash: String(hash), uri })],
].map(([contract, signature, key, vars]) => ({
  contract, signature, key, vars, selector: keccakText(signature).slice(0, 10),
  types: topLevel(signature.slice(signature.indexOf("(") + 1, -1)),
}));

/** "uint256,(string,bytes3),bool" -> ["uint256", "(string,bytes3)", "bool"]: the types, a tuple kept whole. */
function topLevel(list) {
  const out = [];
  let depth = 0;
  let start = 0;
  [...list].forEach((ch, i) => {
    if (ch === "(") depth += 1;
    else if (ch === ")") depth -= 1;
    else if (ch === "," && depth === 0) {
      out.push(list.slice(start, i));
      start = i + 1;
    }
  });
  if (list) out.push(list.slice(start));
  return out;
}

/** One call {target, contract, data} in words, in the page's language. */
export function callWords(call) {
  const data = String(call.data).toLowerCase();
  const row = TABLE.find((r) => r.contract === call.contract && data.startsWith(r.selector));
  if (row) {
    try {
      const args = abi.decode(row.types, "0x" + data.slice(10));
      return t(row.key(args), row.vars(args));
    } catch {
      // data that does not decode as the function's arguments: said plainly below
    }
  }
  const fn = call.contract ? `${call.contract}.${data.slice(0, 10)}` : call.target;
  return t("call.raw", { fn, data: fmt.short(data, 14, 8) });
}

/** keccak256(abi.encode(calls)), calls as (address, bytes)[]: what Consortium.proposalCallsHash holds, so the
 * page signs an approval only of the calls it shows. */
export function callsHash(calls) {
  return keccak256(abi.encode(["tuple(address,bytes)[]"], [calls.map((c) => [c.target, c.data])]));
}
