// Shops / 商户: what points buy. Live offers from the public catalogue (GET /v1/catalogue/offers) with category and
// district filters, and the merchants with their number of live offers. Names of categories and districts come from
// the API's vocabulary (GET /v1/catalogue/vocabulary), merchants' names from their registered profile, each in the
// page's language. An offer is redeemed for a voucher from its card (views/vouchers.js: one signature for its price);
// the resident's vouchers are listed above the offers.
import { t, lang } from "../i18n.js";
import * as fmt from "../format.js";
import { api } from "../api.js";
import { page } from "../state.js";
import { h, alertBox, errorText, announce } from "../ui.js";
import { getAction, vouchersSection } from "./vouchers.js";

const STALE_MS = 60_000; // shown again after this long: read again
const PAGE = 20;

const shops = { vocab: null, offers: [], cursor: null, more: false, merchants: [], category: "", district: "",
  loadedAt: 0, loading: false, error: null };

function named(names) {
  return (names && (names[lang()] || names.en || names.zh)) || "";
}

function vocabName(kind, code) {
  const entry = shops.vocab && shops.vocab[kind].find((e) => e.code === code);
  return entry ? named(entry) : code || "";
}

function filters() {
  const q = {};
  if (shops.category) q.category = shops.category;
  if (shops.district) q.district = shops.district;
  return q;
}

/** Reads the vocabulary (once), the first page of live offers for the filters, and the merchants. */
async function loadShops() {
  shops.loading = true;
  try {
    const [vocab, offers, merchants] = await Promise.all([
      shops.vocab ? shops.vocab : api.catalogueVocabulary(), api.catalogueOffers({ ...filters(), limit: PAGE }),
      api.catalogueMerchants(filters())]);
    Object.assign(shops, { vocab, offers: offers.data, cursor: offers.next_cursor, more: offers.has_more,
      merchants: merchants.data, error: null });
  } catch (exc) {
    shops.error = exc;
  }
  shops.loading = false;
  shops.loadedAt = Date.now();
  page.render();
}

async function loadMore(e) {
  e.currentTarget.disabled = true;
  try {
    const next = await api.catalogueOffers({ ...filters(), limit: PAGE, cursor: shops.cursor });
    shops.offers = shops.offers.concat(next.data);
    shops.cursor = next.next_cursor;
    shops.more = next.has_more;
  } catch (exc) {
    announce(errorText(exc));
  }
  page.render();
}

function choose(key) {
  return (e) => {
    shops[key] = e.currentTarget.value;
    loadShops().then(() => {
      document.getElementById(`shops-${key}`)?.focus();
      announce(t("shops.found", { n: shops.offers.length }));
    });
  };
}

function select(key, kind) {
  const options = (shops.vocab ? shops.vocab[kind] : []).map((e) =>
    h("option", { value: e.code, selected: shops[key] === e.code }, named(e)));
  return h("div", { class: "field" },
    h("label", { for: `shops-${key}` }, t(`shops.${key}`)),
    h("select", { id: `shops-${key}`, onchange: choose(key), "data-testid": `shops-${key}` },
      h("option", { value: "", selected: !shops[key] }, t("shops.all")), options));
}

function offerCard(o) {
  const until = o.validUntil ? fmt.dateTime(Math.floor(Date.parse(o.validUntil) / 1000)) : null;
  return h("li", { class: "card offer", "data-testid": "offer", "data-offer": o.id },
    o.imageUrl ? h("img", { class: "offer-img", src: o.imageUrl, alt: "", loading: "lazy", width: "96",
      height: "96" }) : null,
    h("div", { class: "offer-body" },
      h("h3", { class: "offer-title" }, named(o.title)),
      h("p", { class: "small muted offer-merchant" }, named(o.merchant.name), " · ", vocabName("districts", o.district)),
      named(o.description) ? h("p", { class: "small" }, named(o.description)) : null,
      h("p", { class: "offer-price", "data-testid": "offer-price" }, t("shops.price", { n: fmt.credits(o.price) })),
      h("p", { class: "small muted" },
        o.stock == null ? t("shops.unlimited") : t("shops.stock", { n: fmt.points(o.stock) }),
        until ? [" · ", t("shops.until", { d: until })] : null),
      getAction(o, loadShops)));
}

function merchantItem(m) {
  return h("li", { class: "merchant", "data-testid": "merchant" },
    h("span", null, named(m.name)),
    h("span", { class: "small muted" }, [m.category ? vocabName("categories", m.category) : null,
      m.district ? vocabName("districts", m.district) : null, t("shops.offers", { n: m.liveOffers })]
      .filter(Boolean).join(" · ")));
}

export function shopsView() {
  if (!shops.loading && Date.now() - shops.loadedAt > STALE_MS) loadShops();
  const first = shops.loading && !shops.loadedAt;
  return h("section", { class: "shops", "aria-labelledby": "shops-title" },
    h("h1", { id: "shops-title", tabindex: "-1" }, t("shops.title")),
    h("p", { class: "muted" }, t("shops.lead")),
    shops.error ? alertBox(errorText(shops.error)) : null,
    vouchersSection(),
    h("div", { class: "shops-filters" }, select("category", "categories"), select("district", "districts")),
    h("div", { class: "grid" },
      h("div", { class: "col" },
        h("h2", null, t("shops.offersTitle")),
        first ? h("p", { class: "card muted" }, "…")
          : shops.offers.length ? h("ul", { class: "offers", "data-testid": "offers" }, shops.offers.map(offerCard))
            : h("p", { class: "card muted", "data-testid": "offers-none" }, t("shops.none")),
        shops.more ? h("button", { type: "button", class: "ghost wide", onclick: loadMore }, t("shops.more")) : null),
      h("div", { class: "col" },
        h("h2", null, t("shops.merchants")),
        shops.merchants.length ? h("ul", { class: "card merchants" }, shops.merchants.map(merchantItem))
          : h("p", { class: "card muted" }, first ? "…" : t("shops.noMerchants")))));
}
