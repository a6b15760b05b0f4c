"""The pipeline (`meterly._pipeline`): one client's preparation and attempt loop, from its configuration."""

from __future__ import annotations

from meterly._hooks import SDKHooks
from meterly._options import CallOptions
from meterly._pipeline import Pipeline
from meterly.balances import BALANCES_CHECK

from .fakes import FakeClock, FakeEngine, config, received
from .test_prepare import args_of


def test_a_client_that_does_not_fail_open_has_no_fail_open_state() -> None:
    assert Pipeline(config(), SDKHooks()).fail_open is None


def test_a_client_that_fails_open_gets_its_policy() -> None:
    pipeline = Pipeline(config(fail_open=True), SDKHooks())
    assert pipeline.fail_open is not None
    assert pipeline.fail_open.policy.default == "allow"


def test_a_prepared_call_runs_through_the_attempt_loop() -> None:
    pipeline = Pipeline(config(), SDKHooks())
    clock = FakeClock()
    pipeline.clock = clock
    call = pipeline.prepare(BALANCES_CHECK, args_of(), options=CallOptions())
    result = FakeEngine(clock, received(200)).drive(pipeline.run(call, lambda c: c.to_request()))
    assert result.allowed is True
