"""Exchange nonces (IExchange): numbers from 1 to 2**64-1, spent in the word that holds the resident's daily usage,
usable in any order within 64 of the highest used. A hypothesis test replays sequences of nonces on the chain and in
a small reference model of the rule: each is taken or refused with the same error, and `nextNonce` / `nonceUsed`
agree with the model after every step."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from ..conftest import OTHER_SCHEME, SCHEME
from ..helpers import expect_revert, hypothesis_profile, send

WINDOW = 64
TOP = 2**64 - 1


class NonceWindow:
    """The rule: a nonce is taken once, if it is a number from 1 to 2**64-1 no more than 64 below the highest taken."""

    def __init__(self):
        self.used: set[int] = set()

    @property
    def top(self) -> int:
        return max(self.used, default=0)

    def refusal(self, n: int) -> str | None:
        if not 1 <= n <= TOP:
            return "ExchangeNonceOutOfRange"
        if n in self.used or self.top - n > WINDOW:
            return "ResidentNonceUsed"
        return None

    def spent(self, n: int) -> bool:
        """What nonceUsed says: it can no longer be used (taken, or fallen below the window)."""
        return 1 <= n <= self.top and (n in self.used or self.top - n > WINDOW)


# each step names a nonce by its distance from the highest used so far (the window's edges most often), or a
# number at the ends of the range
STEPS = st.lists(st.one_of(st.sampled_from([-66, -65, -64, -63, -1, 0, 1, 63, 64, 65]), st.integers(-70, 70),
                           st.sampled_from(["zero", "last", "past the last"])), min_size=1, max_size=10)
ENDS = {"zero": 0, "last": TOP, "past the last": TOP + 1}


def _settings():
    profile = settings.get_profile(hypothesis_profile())
    return settings(profile, max_examples=max(10, profile.max_examples), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@_settings()
@given(steps=STEPS)
def test_exchangeNonces_areTakenAndRefusedAsTheModelSays(w3, value, steps):
    resident = value.city.residents[2]
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        model = NonceWindow()
        for step in steps:
            n = ENDS[step] if isinstance(step, str) else max(0, model.top + step)
            # a traffic point (33 credit cents) for 3 volunteer points
            fn = value.exchange_fn(value.intent(w3, resident, OTHER_SCHEME, SCHEME, 1, nonce=n.to_bytes(32, "big")))
            error = model.refusal(n)
            if error:
                expect_revert(w3, value.city.relayer, fn, error)
            else:
                send(w3, value.city.relayer, fn)
                model.used.add(n)
            ex = value.exchange.functions
            assert ex.nextNonce(resident.address).call() == model.top + 1
            for probe in {n, n - 1, n + 1, model.top - WINDOW, model.top - WINDOW - 1, 1}:
                if probe >= 0:
                    assert ex.nonceUsed(resident.address, probe.to_bytes(32, "big")).call() == model.spent(probe), probe
    finally:
        assert w3.provider.make_request("evm_revert", [snapshot])["result"]


def test_exchangeNonce_sharesTheDailyUsageWord_andBothAreKept(w3, value):
    """Nonces out of order and the day's usage in the one word: each exchange adds its credits, whatever its nonce."""
    resident = value.city.residents[3]
    for n in (5, 2, 70, 6, 69):
        send(w3, value.city.relayer, value.exchange_fn(value.intent(w3, resident, SCHEME, OTHER_SCHEME, 10,
                                                                    nonce=n.to_bytes(32, "big"))))
    ex = value.exchange.functions
    assert ex.usedToday(resident.address).call() == 5 * 100  # 10 volunteer points: 100 credit cents each time
    assert ex.nextNonce(resident.address).call() == 71
    # 5 fell below the window when 70 was taken; 7 is within it and still free
    assert ex.nonceUsed(resident.address, (5).to_bytes(32, "big")).call()
    assert not ex.nonceUsed(resident.address, (7).to_bytes(32, "big")).call()
    expect_revert(w3, value.city.relayer, value.exchange_fn(value.intent(
        w3, resident, SCHEME, OTHER_SCHEME, 10, nonce=(2).to_bytes(32, "big"))), "ResidentNonceUsed")
