"""Client options are declared once (`meterly._client_options.OPTIONS`): the constructors, `with_options`,
`SDKConfiguration.create` and the `meterly` command's flags all follow it."""

from __future__ import annotations

# The configuration a client was built with is read from its private `_config`.
# pyright: reportPrivateUsage=false
import inspect
from typing import Any

import pytest

from meterly import AsyncMeterly, Meterly
from meterly._client_options import CONFIG_OPTIONS, OPTIONS
from meterly._config import SDKConfiguration
from meterly.cli import build_parser
from meterly.types import UNSET


def _params(function: Any) -> dict[str, inspect.Parameter]:
    return {name: p for name, p in inspect.signature(function).parameters.items() if name != "self"}


@pytest.mark.parametrize("client", [Meterly, AsyncMeterly])
def test_each_constructor_takes_every_option_keyword_only_with_its_default(client: Any) -> None:
    params = _params(client.__init__)
    expected = [o for o in OPTIONS if client is AsyncMeterly or not o.only_async]
    assert list(params) == [o.name for o in expected]
    for option in expected:
        param = params[option.name]
        assert param.kind is inspect.Parameter.KEYWORD_ONLY
        assert param.default == eval(option.default, {"UNSET": UNSET}), option.name
        annotation = (option.async_annotation if client is AsyncMeterly else "") or option.annotation
        assert param.annotation == annotation


@pytest.mark.parametrize("client", [Meterly, AsyncMeterly])
def test_with_options_takes_the_options_a_view_may_change(client: Any) -> None:
    assert list(_params(client.with_options)) == [o.name for o in OPTIONS if o.view_default]


def test_the_configuration_is_created_from_the_config_options_by_name() -> None:
    defaults = {o.name: eval(o.default, {"UNSET": UNSET}) for o in OPTIONS}
    config = SDKConfiguration.create({name: defaults[name] for name in CONFIG_OPTIONS}, ("balances",))
    assert config.server_url == "https://api.meterly.dev"
    assert {"client", "hooks", "http_backend"}.isdisjoint(CONFIG_OPTIONS)


def test_replace_changes_only_the_named_fields() -> None:
    config = Meterly(api_key="sk_test")._config
    view = config.replace(fail_open=True)
    assert view.fail_open is True
    assert (view.server_url, view.api_key, view.retry_config) == (
        config.server_url,
        config.api_key,
        config.retry_config,
    )
    with pytest.raises(TypeError, match="no field 'nope'"):
        config.replace(nope=1)


def test_the_cli_connection_flags_are_the_options_with_a_flag() -> None:
    help_text = build_parser().format_help()
    for option in OPTIONS:
        if option.cli:
            assert option.cli in help_text
    assert {o.name for o in OPTIONS if o.cli} == {"api_key", "server_url", "timeout_ms"}
