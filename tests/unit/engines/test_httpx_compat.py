"""`httpx_compat`, the one module touching httpcore's private attributes, knows the installed httpcore:
this fails loudly on a version it was not written against, before a release claims that version. It
also defers the TLS context of an http-only client."""

from __future__ import annotations

import httpx

from meterly._engines import httpx_compat
from meterly._engines.httpx_engine import OwnedClient


def test_the_installed_httpcore_is_one_httpx_compat_supports() -> None:
    import httpcore

    assert httpx_compat.supported(), (
        f"httpcore {httpcore.__version__} is not in SUPPORTED_HTTPCORE {httpx_compat.SUPPORTED_HTTPCORE}: "
        "check meterly._engines.httpx_compat against it, then widen the guard and pyproject's range"
    )
    with OwnedClient() as own, httpx.Client() as injected:
        assert httpx_compat.bound_by_deadline(own)
        assert httpx_compat.bound_by_deadline(injected)


def test_an_unsupported_version_is_refused_not_patched() -> None:
    assert not httpx_compat.supported_version("3.0.0", httpx_compat.SUPPORTED_HTTPCORE)
    assert not httpx_compat.supported_version("0.18.0", httpx_compat.SUPPORTED_HTTPCORE)
    assert httpx_compat.supported_version("1.0.9", httpx_compat.SUPPORTED_HTTPCORE)


def test_an_http_only_client_defers_tls_to_a_verified_context_built_at_first_https() -> None:
    import ssl

    from meterly._engines.deadline_io import STAND_INS, _real  # pyright: ignore[reportPrivateUsage]

    stand_in = httpx_compat.deferred_tls()
    assert stand_in is not None
    with OwnedClient(False) as client:
        assert client._transport._pool._ssl_context is stand_in  # type: ignore[attr-defined]
    assert stand_in in STAND_INS
    # Should the stand-in itself reach a handshake, it fails closed: it verifies and trusts no CA.
    assert stand_in.verify_mode == ssl.CERT_REQUIRED
    assert stand_in.check_hostname
    assert stand_in.cert_store_stats()["x509_ca"] == 0
    real = _real(stand_in)
    assert real is not stand_in
    assert real.verify_mode == ssl.CERT_REQUIRED
    assert real.check_hostname
    assert real.cert_store_stats()["x509_ca"] > 0
    with OwnedClient(True) as client:
        assert client._transport._pool._ssl_context is not stand_in  # type: ignore[attr-defined]


def test_the_installed_httpx_sends_as_the_direct_handover_expects() -> None:
    """The engines give a plain client's requests straight to its transport (`transport_for`); that
    needs the send steps `sends_plainly` names, on httpx's classes and on the SDK's own client."""
    import logging

    assert httpx_compat.sends_plainly(httpx.Client(), httpx.Client)
    assert httpx_compat.sends_plainly(httpx.AsyncClient(), httpx.AsyncClient)
    assert httpx_compat.sends_plainly(OwnedClient(), httpx.Client)

    class Traced(httpx.Client):
        def send(self, request: httpx.Request, **kwargs: object) -> httpx.Response:  # type: ignore[override]
            return super().send(request)

    assert not httpx_compat.sends_plainly(Traced(), httpx.Client)
    with httpx.Client() as client:
        url = httpx.URL("https://api.meterly.test/v1/balances.check")
        quiet = logging.getLogger("meterly.test.quiet")
        assert httpx_compat.transport_for(client, url, quiet) is client._transport
        client.cookies.set("session", "s-1")
        assert httpx_compat.transport_for(client, url, quiet) is None
