// The console's state: what the last load read from the API, and the auditor key typed in this tab (memory only,
// never written to storage). main.js fills it and redraws the views from it.
import { setLang, lang, setSchemeProfiles } from "../../wallet/src/i18n.js";
import { api } from "../../wallet/src/api.js";
import { memberKey } from "./approval.js";

const LANG_STORE = "citypoints.console.lang";

export const state = {
  ready: null,       // /health/ready (also when 503: its body says which check failed)
  readyError: null,
  readAt: null,      // Date of the last load
  indexer: null,     // /v1/indexer
  schemes: [],       // /v1/schemes
  rates: null,       // /v1/rates
  supply: null,      // /v1/supply
  periods: [],       // /v1/periods
  loadError: null,
  auditorKey: "",
  statements: null,  // /v1/statements, once an auditor key is given
  statementsError: null,
  applications: null,  // /v1/merchant_applications, once an auditor key is given: shops applying to accept points
  applicationsError: null,
  vocabulary: null,    // /v1/catalogue/vocabulary: the applications' categories and districts in words
  view: "glance",    // or "governance" (#governance)
  node: null,        // /v1/node: head block and its age
  daily: null,       // /v1/activity/daily: points issued and redeemed per day, 14 days
  attestation: undefined,  // the latest of /v1/attestations (null: none yet)
  merchants: null,   // /v1/merchants: counts by status and every merchant
  holdings: null,    // /v1/holdings: points waiting for people who have not joined
  objections: null,  // /v1/identity_trail/objections: residents' objections to uses of their data
  gov: {
    listing: null,   // /v1/proposals
    error: null,
    record: memberKey.load(),  // the member key kept encrypted in this browser (approval.js), or null
    keyError: null,
    keyFormOpen: false,  // the key form's <details> stays as the member left it across redraws
    busy: null,      // "key" or a proposal id while working
    results: {},     // proposal id -> what the last approval did, in words
    errors: {},      // proposal id -> the last approval's failure
  },
};

export function startLang(asked) {
  const guess = (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
  setLang(asked || localStorage.getItem(LANG_STORE) || guess);
}

export function chooseLang(code) {
  setLang(code);
  localStorage.setItem(LANG_STORE, lang());
}

/** Reads every public view of the city at once; a failure is kept in state for the page to say. */
export async function load() {
  // a 503 is an answer too (a check failed); settled here so that it never rejects unobserved
  const readiness = api.ready().then((ready) => ({ ready }), (exc) => (exc.status === 503
    ? { ready: { status: "unavailable", checks: {} } } : { exc }));
  try {
    const [schemes, rates, supply, periods, indexer] = await Promise.all([
      api.schemes(), api.rates(), api.supply(), api.periods(), api.indexer()]);
    Object.assign(state, { schemes, rates, supply, periods, indexer, loadError: null });
    setSchemeProfiles(schemes);
  } catch (exc) {
    state.loadError = exc;
  }
  const r = await readiness;
  state.ready = r.ready || null;
  state.readyError = r.exc || null;
  state.readAt = new Date();
  await Promise.all([loadHealth(), loadGovernance()]);
  if (state.auditorKey) await Promise.all([loadStatements(), loadApplications()]);
}

/** The node's block age, the daily plot's numbers, the last attested audit, the merchants by status and residents'
 * objections to uses of their data (a failure leaves the last ones and says so). */
export async function loadHealth() {
  try {
    let latest;
    [state.node, state.daily, latest, state.merchants, state.objections, state.holdings] = await Promise.all([
      api.node(), api.daily(14), api.attestations(1), api.merchantStatuses(), api.trailObjections(20),
      api.holdings()]);
    state.attestation = latest[0] || null;
    state.healthError = null;
  } catch (exc) {
    state.healthError = exc;
  }
}

export async function loadGovernance() {
  try {
    state.gov.listing = await api.proposals(20);
    state.gov.error = null;
  } catch (exc) {
    state.gov.error = exc;
  }
}

/** The shops' applications to accept points (auditor key), with the vocabulary that names their categories. */
export async function loadApplications() {
  try {
    [state.applications, state.vocabulary] = await Promise.all([api.merchantApplications(state.auditorKey),
      state.vocabulary || api.catalogueVocabulary()]);
    state.applicationsError = null;
  } catch (exc) {
    state.applications = null;
    state.applicationsError = exc;
  }
}

export async function loadStatements() {
  try {
    state.statements = await api.statements(state.auditorKey);
    state.statementsError = null;
  } catch (exc) {
    state.statements = null;
    state.statementsError = exc;
  }
}
