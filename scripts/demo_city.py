"""The demo city's life on chain: its consortium, rules, residents, a month of issuance, and the exchanges,
redemptions, refunds and one settled period that follow. Each method is one resumable step of `citypoints demo`.
"""
from __future__ import annotations

import datetime
import hashlib
import hmac
import base64
import itertools
import struct
import time
import zlib

from eth_account import Account
from web3 import Web3

from ledger_node import chain
from ledger_node.domain import redemption_id
from ledger_node.redemption_plan import plan_on_chain
from ledger_node.deploy.system import call, propose_and_execute
from ledger_node.typed_data import sign, typed_data

SCHEME_RULES = {  # scheme: (issuer daily quota, resident daily cap, rate: credit cents a point x 1e6)
    1: (2_000_000, 600, 10_000_000),  # volunteer: 1 point = 0.10 credit
    2: (2_000_000, 600, 5_000_000),   # traffic: 0.05
    3: (2_000_000, 600, 8_000_000),   # culture: 0.08
    4: (2_000_000, 600, 2_000_000),   # green: 0.02
}
EXPIRY_MONTHS = {3: 12}  # culture points expire 12 months after the end of the month they are credited in
# The five programmes as the consortium describes them in the SchemeRegistry: names, unit, organisation, colour,
# kind. 居住证积分 (residence-permit points) are eligibility-only: they count toward services (school enrolment,
# household registration), have no rate, and are neither spent at merchants nor exchanged.
PROFILES = {
    1: ("志愿服务积分", "Volunteer service", "分", "points", "成都市志愿服务联合会 Chengdu Volunteer Federation", "#2e7d32", 1),
    2: ("蓉E行交通积分", "Traffic civility", "分", "points", "成都市公安局交通管理局 Chengdu Traffic Police", "#1565c0", 1),
    3: ("文化消费积分", "Culture", "分", "points", "成都市文化广电旅游局 Chengdu Culture Bureau", "#6a1b9a", 1),
    4: ("早点星球绿色积分", "Green living", "分", "points", "成都市生态环境局 Chengdu Ecology Bureau", "#00897b", 1),
    5: ("居住证积分", "Residence-permit points", "分", "points", "成都市公安局人口管理 Chengdu Residence Office",
        "#c62828", 2),
}
RESIDENCE = 5
# The published rules (v1) of every programme are its mapping file's rules document (rules_document): each issues
# through its adapter, whose batches cite that version on chain; the residence office's file is residence.yaml.
RESIDENCE_RULES = (2_000_000, 1_000)  # issuer daily quota; resident daily cap (residence points come in lumps)
RULES_BASE_URI = "https://jifen.chengdu.gov.cn/rules"  # the demo's published rules documents (never fetched)
THRESHOLD, EMERGENCY_THRESHOLD = 4, 2
BATCH = 250
SETTLEMENT_OPEN, SETTLEMENT_PAID = 0, 1  # IClearing.SettlementState
DEMO_IDENTITY_KEY = b"citypoints-demo-identity-key"  # the demo's onboarding HMAC key; never a real one


NEWCOMERS, NEWCOMERS_JOINING = 12, 4  # people credited before they joined; of them, those who join in the demo


def newcomer_account(i: int):
    """The account newcomer `i` joins with (a demo key made from its number: the demo's keys are not secrets)."""
    return Account.from_key(hashlib.sha256(f"demo-newcomer-key-{i}".encode()).digest())


def identity_hash(identity_number: str) -> bytes:
    """The keyed hash registered on chain instead of the person's identity number."""
    return hmac.new(DEMO_IDENTITY_KEY, identity_number.encode(), hashlib.sha256).digest()


def month_records(scheme: int, k: int, resident: str) -> list[dict]:
    """The records a program's own system would export for one resident over a month (deterministic)."""
    day = (datetime.date.today() - datetime.timedelta(days=1 + k % 28)).isoformat()
    rid = f"demo-{scheme}-{k}"
    if scheme == 1:
        return [{"record_id": rid, "resident": resident, "hours": f"{1 + k % 6}.5", "confirmed_by": "organiser",
                 "date": day, "activity": ("care", "teaching", "environment", "events")[k % 4]}]
    if scheme == 2:
        return [{"record_id": rid, "resident": resident, "kind": "pedestrian_yield", "date": day},
                {"record_id": rid + "-t", "resident": resident, "kind": "transit_trip", "trips": 5 + k % 30,
                 "date": day}]
    if scheme == RESIDENCE:  # the residence office's yearly statement: months of social insurance paid
        return [{"record_id": f"2026:{k}", "resident": resident, "kind": "social_insurance",
                 "months": 20 + (k * 37) % 100}]
    if scheme == 3:
        return [{"record_id": rid, "resident": resident, "kind": "museum_visit", "date": day, "venue": "city-museum"},
                {"record_id": rid + "-p", "resident": resident, "kind": "performance_ticket",
                 "price": f"{80 + k % 200}.00", "date": day, "venue": "grand-theatre"}]
    return [{"record_id": rid, "resident": resident, "kind": "recycling", "category": ("paper", "plastic", "metal")[k % 3],
             "weight_kg": f"{3 + k % 20}.250", "date": day},
            {"record_id": rid + "-b", "resident": resident, "kind": "low_carbon_trip", "mode": "bike",
             "distance_km": f"{2 + k % 15}.5", "date": day}]


# The demo's shops (issue 22): each merchant gets one of these profiles (cycled) and its 2-4 offers, in both
# languages, over several categories and districts; some with stock, some with a picture drawn below. Prices in
# credit cents; validDays: the offer ends that many days after `citypoints merchant import-demo` (None: no end).
# Residents redeem any of them for a voucher from the wallet's Shops tab (each takes one unit of a limited stock;
# the postcards' 3 sell out quickly, to show "sold out").
SHOPS = [
    ({"nameZh": "鹤鸣茶社", "nameEn": "Heming Teahouse", "category": "food", "district": "qingyang"}, [
        ("盖碗茶一杯", "A cup of gaiwan tea", "人民公园里喝茶", "Tea in People's Park", 1500, None, None, (46, 125, 50)),
        ("茶点套餐", "Tea and snacks set", "两人份", "For two", 4800, 40, 30, None)]),
    ({"nameZh": "成都博物馆文创店", "nameEn": "Chengdu Museum Shop", "category": "culture", "district": "qingyang"}, [
        ("特展门票", "Special exhibition ticket", "成都博物馆特展", "Chengdu Museum's special exhibition", 3000, 200, 60,
         (21, 101, 192)),
        ("文创书签", "Museum bookmark", "青铜纹样书签", "Bronze-pattern bookmark", 800, 500, None, None),
        ("熊猫明信片", "Panda postcard", "限量三张", "Only three", 500, 3, None, None),
        ("讲解导览", "Guided tour", "周末讲解", "Weekend guided tour", 2000, 30, 14, None)]),
    ({"nameZh": "邻里生鲜超市", "nameEn": "Neighbourhood Fresh Market", "category": "groceries", "district": "wuhou"}, [
        ("时令蔬菜包", "Seasonal vegetable bag", "本地农场直供", "From local farms", 1200, None, 7, None),
        ("大米5公斤", "Rice, 5 kg", "四川大米", "Sichuan rice", 3500, 80, None, None)]),
    ({"nameZh": "天府通出行", "nameEn": "Tianfu Transit", "category": "transport", "district": "gaoxin"}, [
        ("地铁日票", "Metro day pass", "当日不限次数", "Unlimited rides for a day", 1800, None, None, None),
        ("共享单车月卡", "Bike share month card", "30天骑行", "30 days of rides", 1500, 300, 30, None)]),
    ({"nameZh": "锦江社区服务中心", "nameEn": "Jinjiang Community Services", "category": "services",
      "district": "jinjiang"}, [
        ("家电清洗", "Appliance cleaning", "上门清洗空调", "Air-conditioner cleaning at home", 6000, 20, 45, None),
        ("裁缝修改", "Tailoring alteration", "一件衣物", "One garment", 2500, None, None, None)]),
    ({"nameZh": "金牛健康驿站", "nameEn": "Jinniu Health Station", "category": "health", "district": "jinniu"}, [
        ("体检套餐", "Health check", "基础体检", "A basic check-up", 9900, 50, 90, None),
        ("中医推拿", "Tuina massage", "三十分钟", "Thirty minutes", 5000, None, None, None)]),
    ({"nameZh": "成华青少年学堂", "nameEn": "Chenghua Youth Academy", "category": "education", "district": "chenghua"}, [
        ("编程体验课", "Coding taster class", "8-14岁", "Ages 8-14", 4000, 24, 30, None),
        ("书法课", "Calligraphy lesson", "周六上午", "Saturday mornings", 3000, 15, 30, None)]),
    ({"nameZh": "天府新区绿色集市", "nameEn": "Tianfu Green Market", "category": "groceries", "district": "tianfu"}, [
        ("有机水果篮", "Organic fruit basket", "当季水果", "Fruit in season", 4500, 60, 14, None),
        ("环保购物袋", "Reusable shopping bag", "帆布材质", "Canvas", 600, 1000, None, None)]),
]


def rules_document(scheme: int) -> bytes:
    """The demo programme's published earning rules (v1), as the bytes whose sha256 the registry holds: its mapping
    file's canonical rules document, so the hash on chain is the `rules_sha256` every run of its adapter cites (and
    the document the auditor checks each cited entry against)."""
    from issuer_sdk.adapters import PROGRAMS, adapter_for
    from issuer_sdk.adapters.mapping import canonical_json

    for adapter in map(adapter_for, PROGRAMS):
        if adapter.default_scheme == scheme:
            return canonical_json(adapter.spec.rules_document())
    raise KeyError(f"no mapping file of the demo names scheme {scheme}")


def demo_png(rgb: tuple[int, int, int], size: int = 48) -> bytes:
    """A small PNG drawn in code (no download): a square of `rgb` with a lighter diagonal band."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    light = bytes(min(255, c + 90) for c in rgb)
    rows = b"".join(b"\x00" + b"".join(light if abs(x - y) < size // 6 else bytes(rgb) for x in range(size))
                    for y in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def shop_catalogue(k: int) -> dict:
    """Merchant k's profile and offers as var/demo.json keeps them (read by `citypoints merchant import-demo`)."""
    profile, offers = SHOPS[k % len(SHOPS)]
    branch = k // len(SHOPS) + 1  # the same shop again: its next branch
    if branch > 1:
        profile = {**profile, "nameZh": f"{profile['nameZh']}（{branch}号店）",
                   "nameEn": f"{profile['nameEn']} #{branch}"}
    return {"profile": profile, "offers": [
        {"titleZh": tz, "titleEn": te, "descriptionZh": dz, "descriptionEn": de, "price": price, "stock": stock,
         "validDays": days, "category": profile["category"], "district": profile["district"],
         **({"imagePng": base64.b64encode(demo_png(colour)).decode()} if colour else {})}
        for tz, te, dz, de, price, stock, days, colour in offers]}


class DemoCity:
    def __init__(self, w3: Web3, deployment: dict, demo: dict, operator):
        self.w3, self.demo, self.operator = w3, demo, operator
        self.addresses = dict(deployment["contracts"])  # name -> address, as the auditor and settlement take them
        self.c = {name: chain.bind(w3, name, addr) for name, addr in self.addresses.items()}
        self.members = [Account.from_key(m["privateKey"]) for m in demo["members"]]
        self.issuers = {i["scheme"]: Account.from_key(i["privateKey"]) for i in demo["issuers"]}
        self.relayer = Account.from_key(demo["relayers"][0]["privateKey"])
        self.onboarding = Account.from_key(demo["onboarding"][0]["privateKey"])
        self.merchants = [Account.from_key(m["privateKey"]) for m in demo["merchants"]]
        self.residents = [Account.from_key(r["privateKey"]) for r in demo["residents"]]

    def _govern(self, calls, description: str) -> None:
        consortium = self.c["Consortium"]
        if consortium.functions.isMember(self.operator.address).call():
            voters = [self.operator] + self.members
        else:
            voters = self.members
        propose_and_execute(self.w3, consortium, voters, calls, description)

    def governance(self) -> None:
        """The seven member organisations join, M-of-N becomes 4 of 7, and the bootstrap operator leaves."""
        consortium = self.c["Consortium"]
        joining = [m for m in self.members if not consortium.functions.isMember(m.address).call()]
        if joining:  # a proposal executes whole: either every founding member joined or none did
            self._govern([call(consortium, "addMember", m.address) for m in joining], "founding members")
        if consortium.functions.isMember(self.operator.address).call():
            self._govern([call(consortium, "setThresholds", THRESHOLD, EMERGENCY_THRESHOLD),
                          call(consortium, "removeMember", self.operator.address)], "4 of 7; the operator steps down")

    def rules(self) -> None:
        ledger, membership, rates, exchange = (self.c[n] for n in ("PointsLedger", "Membership", "Rates", "Exchange"))
        if ledger.functions.schemeIds().call():  # one proposal made them all: a cut-off loading executed it
            return
        role = lambda name: getattr(membership.functions, name)().call()  # noqa: E731
        registry = self.c["SchemeRegistry"]
        calls = []
        for scheme, (quota, cap, rate) in SCHEME_RULES.items():
            calls += [call(ledger, "addScheme", scheme, quota, cap),
                      call(membership, "setIssuerAccounts", scheme, [self.issuers[scheme].address]),
                      call(rates, "setInitialRate", scheme, rate)]
            if scheme in EXPIRY_MONTHS:  # set before the programme issues: every point has its month
                calls.append(call(ledger, "setExpiry", scheme, EXPIRY_MONTHS[scheme]))
        calls += [call(ledger, "addScheme", RESIDENCE, *RESIDENCE_RULES),  # no rate: eligibility only
                  call(membership, "setIssuerAccounts", RESIDENCE, [self.issuers[RESIDENCE].address])]
        for scheme, (zh, en, unit_zh, unit_en, organisation, colour, kind) in PROFILES.items():
            document = rules_document(scheme)
            calls += [call(registry, "describeScheme", scheme,
                           (zh, en, unit_zh, unit_en, organisation, bytes.fromhex(colour[1:]), kind)),
                      call(registry, "publishRules", scheme, hashlib.sha256(document).digest(),
                           f"{RULES_BASE_URI}/{scheme}/v1.json")]
        calls += [call(exchange, "setPairAllowed", a, b, True) for a, b in itertools.permutations(SCHEME_RULES, 2)]
        calls += [call(membership, "grantRole", role("AUDITOR_ROLE"), a["address"]) for a in self.demo["auditors"]]
        calls += [call(membership, "grantRole", role("ONBOARDING_ROLE"), self.onboarding.address),
                  call(membership, "grantRole", role("RELAYER_ROLE"), self.relayer.address)]
        # the last shop joins later, by a proposal of the city's history (scripts/demo_history.py)
        calls += [call(membership, "registerMerchant", m.address) for m in self.merchants[:-1]]
        self._govern(calls, "demo city: schemes, rates, exchange pairs, roles, merchants")

    def register_residents(self) -> None:
        self._onboard([(r.address, identity_hash(f"demo-id-{r.address}")) for r in self.residents])

    def _onboard(self, people: list[tuple[str, bytes]]) -> None:
        """Register (account, identity hash) pairs not yet registered, straight on chain as a migration of the
        office's records would (the API's registrations put each on the identity-use trail first; 1,000 such uses
        within the hour would rightly be the auditor's trail-bulk-access finding)."""
        membership = self.c["Membership"]
        todo = [(a, h) for a, h in people if not membership.functions.isResident(a).call()]
        batches = [todo[i:i + BATCH] for i in range(0, len(todo), BATCH)]
        chain.transact_many(self.w3, self.onboarding, [membership.functions.registerResidents(
            [a for a, _ in b], [h for _, h in b]) for b in batches], gas=30_000_000)

    def issue_month(self) -> None:
        """A month of each program's records, issued through its SDK adapter as its own system would, each batch
        citing the programme's published rules; the residence-permit points (eligibility only) likewise."""
        from issuer_sdk import IssuerClient, LocalSigner
        from issuer_sdk.adapters import PROGRAMS, adapter_for

        adapters = {a.default_scheme: a for a in map(adapter_for, PROGRAMS)}  # each mapping file names its scheme
        rpc_url = self.w3.provider.endpoint_uri
        for scheme, issuer in self.issuers.items():
            if scheme not in adapters:
                continue
            client = IssuerClient(rpc_url, self.c["PointsLedger"].address, LocalSigner(issuer.key), scheme,
                                  salt=hashlib.sha256(f"demo-salt-{scheme}".encode()).digest(),
                                  chain_id=self.w3.eth.chain_id)
            records = [rec for k, r in enumerate(self.residents) for rec in month_records(scheme, k, r.address)]
            summary, rejected = adapters[scheme].push_many(client, records)
            if rejected:
                raise RuntimeError(f"demo records rejected by the {adapters[scheme].program} adapter: {rejected[:3]}")

    def newcomers(self) -> None:
        """Points for people who have not joined: the volunteer programme credits NEWCOMERS of its members who have
        no wallet yet by their keyed identity hash (held on chain), and the first NEWCOMERS_JOINING of them then
        join at the onboarding office, their registration taking what was held. The rest stay unclaimed, as the
        auditor's report and the console show."""
        from issuer_sdk import IssuerClient, LocalSigner

        ledger = self.c["PointsLedger"]
        client = IssuerClient(self.w3.provider.endpoint_uri, ledger.address, LocalSigner(self.issuers[1].key), 1,
                              salt=hashlib.sha256(b"demo-salt-1").digest(), chain_id=self.w3.eth.chain_id)
        from issuer_sdk.adapters import adapter_for

        people = [identity_hash(f"demo-newcomer-{i}") for i in range(NEWCOMERS)]
        cited = adapter_for("volunteer").citation(client)  # the volunteer rules it published: care, 10 points an hour
        for i, h in enumerate(people):
            client.issue_to_identity(h, 10 * (1 + i % 4), f"newcomer-volunteering:{i}", reason=1,  # 1-4 h of care
                                     rules_version=cited)
        self._onboard([(newcomer_account(i).address, h) for i, h in enumerate(people[:NEWCOMERS_JOINING])])

    def history(self) -> None:
        """The consortium's changes since set-up, made through `citypoints gov`'s functions (demo_history.py)."""
        from scripts.demo_history import GovernanceHistory

        members = {m["name"]: Account.from_key(m["privateKey"]) for m in self.demo["members"]}
        office = Account.from_key(self.demo["districtIssuers"][0]["privateKey"])
        GovernanceHistory(self.w3.provider.endpoint_uri, self.demo, members, office).run()

    def attestation(self) -> None:
        """The city's auditor replays the whole history and attests its report on chain (as `citypoints audit
        --attest` does), so the console shows a last attested audit; the signed report is kept under var/audit/."""
        from ledger_node import paths
        from ledger_node.audit import attest as att
        from ledger_node.audit import report as rep
        from ledger_node.audit.run import AuditOptions, audit

        attestations = self.c["AuditAttestations"]
        if attestations.functions.attestationCount().call() > 0:
            return
        rpc_url = self.w3.provider.endpoint_uri
        result = audit(AuditOptions(rpc_url, self.addresses))
        if result.problems:
            raise RuntimeError(f"the demo city does not audit clean: {[p.to_json() for p in result.problems[:3]]}")
        key = self.demo["auditors"][0]["privateKey"]
        report = rep.sign(result.report, key)
        report["attestation"] = att.attest(rpc_url, attestations.address, key, report)
        path = rep.write(report, paths.var_dir() / "audit" / f"report-{report['toBlock']}.json")
        path.chmod(0o600)

    def activity(self) -> None:
        """Exchanges, redemptions at every merchant, a few refunds, then a closed and settled period. Each part
        sends only what the chain does not hold yet (the residents' signed nonces are fixed per demo account), so
        a loading cut off anywhere resumes without doing anything twice."""
        self._exchanges()
        self._refunds(self._redemptions())
        self._settle(self._closed_period())

    def _exchanges(self) -> None:
        w3, exchange = self.w3, self.c["Exchange"]
        chain_id, deadline = w3.eth.chain_id, int(time.time()) + 86_400
        exchanges = []
        for k, resident in enumerate(self.residents[:40]):
            nonce = (1).to_bytes(32, "big")  # each demo resident's first exchange (IExchange: numbered nonces)
            if exchange.functions.nonceUsed(resident.address, nonce).call():
                continue
            a, b = 1 + k % 4, 1 + (k + 1) % 4
            msg = {"resident": resident.address, "fromScheme": a, "toScheme": b, "points": 10, "minReceived": 0,
                   "nonce": nonce, "deadline": deadline}
            sig = sign(resident, typed_data("ExchangeIntent", chain_id, exchange.address, msg))
            exchanges.append(exchange.functions.exchange(*msg.values(), sig))
        chain.transact_many(w3, self.relayer, exchanges)

    def _redemptions(self) -> list[str]:
        """The demo's 200 redemptions, made where not made yet; their ids."""
        w3, redemption = self.w3, self.c["Redemption"]
        chain_id, deadline = w3.eth.chain_id, int(time.time()) + 86_400
        ids, todo = [], []
        for k, resident in enumerate(self.residents[:200]):
            nonce = Web3.keccak(text=f"demo-redemption-{k}")
            ids.append(redemption_id(resident.address, nonce))
            if redemption.functions.nonceUsed(resident.address, nonce).call():
                continue
            merchant = self.merchants[k % len(self.merchants)]
            credits = 100 + 7 * (k % 30)
            parts = plan_on_chain(self.c["PointsLedger"], self.c["Rates"], redemption, resident.address, credits)
            msg = {"resident": resident.address, "merchant": merchant.address, "credits": credits,
                   "parts": [p.as_message() for p in parts], "orderRef": Web3.keccak(text=f"demo-order-{k}"),
                   "nonce": nonce, "deadline": deadline}
            sig = sign(resident, typed_data("RedemptionConsent", chain_id, redemption.address, msg))
            consent = (msg["resident"], msg["merchant"], credits, [p.as_tuple() for p in parts], msg["orderRef"],
                       nonce, deadline)
            todo.append(redemption.functions.redeem(consent, sig))
        chain.transact_many(w3, self.relayer, todo)
        return ids

    def _refunds(self, ids: list[str]) -> None:
        """Half of one redemption at each of ten merchants refunded (every 20th was one merchant's all)."""
        redemption, refunds = self.c["Redemption"], []
        for rid in ids[::21]:
            if redemption.functions.redemption(rid).call()[1] > 0:  # refunded already
                continue
            (event,) = redemption.events.Redeemed().get_logs(from_block=0, argument_filters={"redemptionId": rid})
            r = event["args"]
            parts = [(p["scheme"], p["points"], p["credits"]) for p in r["parts"]]
            refunds.append(redemption.functions.refund(rid, r["resident"], r["merchant"], parts, r["credits"] // 2))
        chain.transact_many(self.w3, self.relayer, refunds)

    def _closed_period(self) -> int:
        """The demo's period, closed now (as `citypoints settle close` closes it) unless a cut-off loading closed it
        already (the demo closes one)."""
        from ledger_node.settlement.ledger import ClearingLedger
        from ledger_node.settlement.payments import close_period

        clearing = self.c["Clearing"]
        period = clearing.functions.openPeriod().call()
        if period > 1 and clearing.functions.closedAt(period - 1).call() > 0:
            return period - 1
        return close_period(ClearingLedger(self.w3, self.addresses), self.operator)["period"]

    def _settle(self, period: int) -> None:
        """Every issuer pays each merchant statement of `period` and the merchant confirms it; statements paid or
        confirmed before are left as they are."""
        clearing = self.c["Clearing"]
        owed = [(scheme, issuer, merchant) for scheme, issuer in self.issuers.items() for merchant in self.merchants
                if clearing.functions.merchantPosition(period, scheme, merchant.address).call() > 0]
        sids = {(scheme, merchant.address): clearing.functions.merchantStatementId(period, scheme,
                                                                                   merchant.address).call()
                for scheme, _, merchant in owed}
        state = lambda scheme, merchant: clearing.functions.settlement(sids[scheme, merchant.address]).call()[0]  # noqa: E731
        for scheme, issuer in self.issuers.items():
            chain.transact_many(self.w3, issuer, [
                clearing.functions.recordMerchantPayment(
                    period, scheme, merchant.address, Web3.keccak(text=f"bank-transfer:{period}:{scheme}:{merchant.address}"))
                for s, _, merchant in owed if s == scheme and state(scheme, merchant) == SETTLEMENT_OPEN])
        for merchant in self.merchants:
            chain.transact_many(self.w3, merchant, [
                clearing.functions.answerPayment(sids[scheme, merchant.address], True, b"\x00" * 32)
                for scheme, _, m in owed if m is merchant and state(scheme, merchant) == SETTLEMENT_PAID])
        self._settle_issuers(period)

    def _settle_issuers(self, period: int) -> None:
        """The issuers' statements of `period` (exchanges between schemes): each debtor issuer pays its statements,
        then each creditor confirms; statements paid or confirmed before are left as they are."""
        clearing = self.c["Clearing"].functions
        pays, confirms = {}, {}
        for lo, hi in itertools.combinations(sorted(self.issuers), 2):
            amount = clearing.issuerPosition(period, lo, hi).call()
            if amount == 0:
                continue
            sid = clearing.issuerStatementId(period, lo, hi).call()
            debtor, creditor = (lo, hi) if amount > 0 else (hi, lo)
            pays.setdefault(debtor, []).append((sid, clearing.recordIssuerPayment(
                period, lo, hi, Web3.keccak(text=f"bank-transfer:{period}:issuers:{lo}:{hi}"))))
            confirms.setdefault(creditor, []).append((sid, clearing.answerPayment(sid, True, b"\x00" * 32)))
        for wanted, group in ((SETTLEMENT_OPEN, pays), (SETTLEMENT_PAID, confirms)):
            for scheme, fns in group.items():
                chain.transact_many(self.w3, self.issuers[scheme], [
                    fn for sid, fn in fns if clearing.settlement(sid).call()[0] == wanted])
