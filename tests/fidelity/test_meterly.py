"""Meterly itself against the sandbox laid out as both real services: one client, a server per resource."""

from __future__ import annotations

from meterly import Meterly
from meterly.models import Security
from meterly.sandbox import COMMET_API_KEY, DEFAULT_API_KEY, Sandbox


def test_one_client_talks_to_each_service_on_its_own_server_and_path() -> None:
    with Sandbox() as sandbox:
        client = Meterly(
            server_urls={"balances": sandbox.url, "usage": f"{sandbox.url}/api"},  # Commet's /api/v1 layout
            security=Security(bearer_auth=DEFAULT_API_KEY, api_key_auth=COMMET_API_KEY),
        )
        with client:
            check = client.balances.check(customer_id="cus_pro", feature_id="sso")
            usage = client.usage.check(customer_id="cus_pro", feature_code="api_calls", quantity=3)
        paths = [call.path for call in sandbox.engine.history]
    assert paths == ["/v1/balances.check", "/api/v1/usage/check"]
    assert check.flag is not None
    assert check.flag.feature_id == "sso"
    assert usage.subscription_status == "active"


def test_the_later_fields_parse_typed_from_the_sandbox() -> None:
    with Sandbox() as sandbox, Meterly(api_key=DEFAULT_API_KEY, server_url=sandbox.url) as client:
        image = client.balances.check(customer_id="cus_pro", feature_id="image", required_balance=2)
        metered = client.balances.check(customer_id="cus_pro", feature_id="messages")
    assert image.required_balance == 20
    assert image.balances is not None
    assert image.balance is not None
    assert image.balances["ai_credits"] == image.balance
    assert metered.flag is None
    assert image.is_degraded is False
