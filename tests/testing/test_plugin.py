"""The pytest plugin: its fixtures, how a seed is chosen, and that it leaves other tests alone.

Each test writes a small test file and runs pytest on it with `pytester` (in process unless the test
is about what the plugin imports).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SEED = {
    "features": [{"id": "messages", "name": "Messages"}],
    "plans": [{"id": "free", "features": [{"feature_id": "messages", "included": 2}]}],
    "customers": [{"id": "user_1", "plans": ["free"]}],
}


def test_a_test_without_its_fixtures_loads_no_sandbox(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys, threading

        def test_plain():
            assert "meterly.sandbox" not in sys.modules
            assert threading.active_count() == 1
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_plugin_is_registered_by_its_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_fixture_exists(meterly_engine):\n    assert meterly_engine is not None\n")
    assert pytester.runpytest_subprocess().ret == 0
    result = pytester.runpytest_subprocess("-p", "no:meterly")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'meterly_engine' not found*"])


def test_the_engine_is_empty_and_fresh_for_each_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_first(meterly_engine):
            assert meterly_engine.customers == {} and meterly_engine.features == {}
            meterly_engine.add_feature("messages")

        def test_second(meterly_engine):
            assert meterly_engine.features == {}
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_the_marker_seeds_the_engine_with_a_dict_a_path_or_the_demo(pytester: pytest.Pytester) -> None:
    (pytester.path / "seeds").mkdir()
    (pytester.path / "seeds" / "seed.json").write_text(json.dumps(SEED), encoding="utf-8")
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.meterly_seed({SEED!r})
        def test_dict(meterly_engine):
            assert list(meterly_engine.customers) == ["user_1"]

        @pytest.mark.meterly_seed("seeds/seed.json")
        def test_path_relative_to_the_test_file(meterly_engine):
            assert list(meterly_engine.customers) == ["user_1"]

        @pytest.mark.meterly_seed("demo")
        def test_demo(meterly_engine):
            assert "cus_pro" in meterly_engine.customers
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_the_option_and_the_ini_setting_seed_every_engine_and_the_marker_wins(
    pytester: pytest.Pytester,
) -> None:
    (pytester.path / "seed.json").write_text(json.dumps(SEED), encoding="utf-8")
    pytester.makepyfile(
        """
        import pytest

        def test_seeded(meterly_engine):
            assert list(meterly_engine.customers) == ["user_1"]

        @pytest.mark.meterly_seed("demo")
        def test_marker_wins(meterly_engine):
            assert "cus_pro" in meterly_engine.customers
        """
    )
    pytester.runpytest("--meterly-seed", "seed.json").assert_outcomes(passed=2)
    pytester.makeini("[pytest]\nmeterly_seed = seed.json\n")
    pytester.runpytest().assert_outcomes(passed=2)


def test_a_marker_without_one_seed_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.meterly_seed()
        def test_bad(meterly_engine):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*meterly_seed takes one argument*"])


def test_the_clients_retry_as_in_production_without_sleeping(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        import asyncio, time
        import pytest
        from meterly import errors

        pytestmark = pytest.mark.meterly_seed({SEED!r})

        @pytest.fixture(autouse=True)
        def no_real_sleep(monkeypatch):
            def refuse(seconds):
                raise AssertionError(f"slept {{seconds}} s")

            async def refuse_async(seconds):
                refuse(seconds)

            monkeypatch.setattr(time, "sleep", refuse)
            monkeypatch.setattr(asyncio, "sleep", refuse_async)

        def test_sync(meterly_client, meterly_engine):
            meterly_engine.faults.fail_next(2)
            res = meterly_client.balances.check(customer_id="user_1", feature_id="messages")
            assert res.allowed
            assert [call.status for call in meterly_engine.history] == [503, 503, 200]

        def test_sync_outage_gives_up_after_the_policys_elapsed_time(meterly_client, meterly_engine):
            meterly_engine.faults.outage = True
            started = time.monotonic()
            with pytest.raises(errors.InternalServerError):
                meterly_client.balances.check(customer_id="user_1", feature_id="messages")
            assert time.monotonic() - started < 1
            assert len(meterly_engine.history) > 3

        def test_async(meterly_async_client, meterly_engine):
            meterly_engine.faults.fail_next(2)
            check = meterly_async_client.balances.check(customer_id="user_1", feature_id="messages")
            res = asyncio.run(check)
            assert res.allowed
            assert len(meterly_engine.history) == 3

        async def test_async_under_pytest_asyncio(meterly_async_client):
            res = await meterly_async_client.usage.check(customer_id="user_1", feature_code="messages")
            assert res.allowed
        """
    )
    pytester.runpytest("-p", "asyncio", "-o", "asyncio_mode=auto").assert_outcomes(passed=4)


def test_the_server_serves_the_same_engine_on_loopback(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        import httpx
        import pytest

        @pytest.mark.meterly_seed({SEED!r})
        def test_served(meterly_server, meterly_engine):
            assert meterly_server.engine is meterly_engine
            assert meterly_server.url.startswith("http://127.0.0.1:")
            answer = httpx.post(
                meterly_server.url + "/v1/balances.check",
                json={{"customer_id": "user_1", "feature_id": "messages"}},
                headers={{"authorization": "Bearer " + meterly_server.api_key}},
            )
            assert answer.json()["allowed"] is True
            assert len(meterly_engine.history) == 1
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_without_waits_records_each_skipped_wait() -> None:
    import httpx

    from meterly import Meterly
    from meterly.sandbox import DEFAULT_API_KEY, SandboxEngine, SandboxTransport
    from meterly.testing import without_waits
    from meterly.utils.retries import DEFAULT_RETRY_CONFIG, backoff_delay

    engine = SandboxEngine.from_seed(SEED)
    engine.faults.fail_next(2)
    with Meterly(api_key=DEFAULT_API_KEY, client=httpx.Client(transport=SandboxTransport(engine))) as client:
        clock = without_waits(client)
        assert client.balances.check(customer_id="user_1", feature_id="messages").allowed
    assert len(clock.waits) == 2
    for attempt, wait in enumerate(clock.waits, start=1):  # half fixed, half random, as configured
        assert backoff_delay(DEFAULT_RETRY_CONFIG.backoff, attempt, lambda: 0.0) <= wait
        assert wait <= backoff_delay(DEFAULT_RETRY_CONFIG.backoff, attempt, lambda: 1.0)
    assert clock.skipped == sum(clock.waits)


def test_the_plugin_documents_its_marker_and_option(pytester: pytest.Pytester) -> None:
    pytester.runpytest("--markers").stdout.fnmatch_lines(["@pytest.mark.meterly_seed(seed)*"])
    pytester.runpytest("--help").stdout.fnmatch_lines(["*--meterly-seed=PATH*"])


def test_the_engine_fixture_resolves_an_absolute_seed_path(pytester: pytest.Pytester, tmp_path: Path) -> None:
    seed = tmp_path / "elsewhere.json"
    seed.write_text(json.dumps(SEED), encoding="utf-8")
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.meterly_seed({str(seed)!r})
        def test_absolute(meterly_engine):
            assert list(meterly_engine.customers) == ["user_1"]
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_the_plugin_loads_by_name_when_autoloading_is_off(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile("def test_fixture_exists(meterly_client):\n    assert meterly_client is not None\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(errors=1)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "meterly.testing.plugin")
    result.assert_outcomes(passed=1)


def test_the_fixture_types_are_exported_by_meterly_testing_without_loading_the_sandbox() -> None:
    import subprocess
    import sys

    import meterly.sandbox
    import meterly.testing
    from meterly.testing import plugin

    assert meterly.testing.Sandbox is meterly.sandbox.Sandbox
    assert meterly.testing.SandboxEngine is meterly.sandbox.SandboxEngine
    assert {"Sandbox", "SandboxEngine"} <= set(meterly.testing.__all__)
    annotations = {
        name: getattr(plugin, name).__wrapped__.__annotations__["return"]
        for name in ("meterly_engine", "meterly_server")
    }
    assert annotations == {"meterly_engine": "SandboxEngine", "meterly_server": "Iterator[Sandbox]"}
    code = "import sys, meterly.testing; print('meterly.sandbox' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "False\n"


def test_the_outbox_fixture_flushes_and_shows_what_was_delivered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.meterly_seed("demo")


        def test_queue_then_flush(meterly_outbox):
            outbox = meterly_outbox.client.outbox
            queued = outbox.usage.track(customer_id="cus_pro", feature_code="api_calls", value=3)
            result = meterly_outbox.flush()
            assert result.pending == 0  # delivered: by this flush, or by the sender before it
            (event,) = meterly_outbox.delivered
            assert (event.operation, event.idempotency_key) == ("usageTrack", queued.idempotency_key)
            assert event.body["customer_id"] == "cus_pro"
            assert (event.body["feature_code"], event.body["value"]) == ("api_calls", 3)


        def test_an_outage_is_retried_and_a_refusal_is_a_dead_letter(meterly_outbox, meterly_engine):
            meterly_engine.faults.fail_next(3)
            meterly_outbox.outbox.usage.track(customer_id="cus_pro", feature_code="api_calls")
            meterly_outbox.outbox.usage.track(customer_id="nobody", feature_code="api_calls")
            assert meterly_outbox.flush().pending == 0
            assert [event.body["customer_id"] for event in meterly_outbox.delivered] == ["cus_pro"]
            (dead,) = meterly_outbox.dead_letters()
            assert dead.event.body["customer_id"] == "nobody"
            assert "nobody" in dead.error
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
