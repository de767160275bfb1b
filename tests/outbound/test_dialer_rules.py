"""The dialer's finer rules Twilio notices: what it asks for when it checks a call it lost."""

from __future__ import annotations

from tests.fake_twilio import fake_twilio, outbound, outbound_settings  # noqa: F401
from tests.outbound.test_dialer import LI, start_campaign


async def test_a_lost_call_is_looked_up_in_one_page_of_the_newest_calls(outbound, seed):  # noqa: F811
    """A resident called for years has hundreds of calls at Twilio: the check after a crash
    reads the newest page only, never the whole history (slow, past the REST timeout)."""
    await seed.residents([LI])
    await start_campaign(outbound)
    crashed = outbound.dialer()
    await crashed.claim_batch(now=outbound.clock())  # intent written, then the process died
    outbound.clock.advance(10 * 60)
    await outbound.dialer().run_until_idle()
    lookups = [r for r in outbound.fake.requests
               if r.method == "GET" and r.path.endswith("/Calls.json")]
    assert lookups and all(r.query.get("To") == "+8613900000001" for r in lookups)
    assert all(r.query.get("PageSize") == "50" for r in lookups)
