"""`httpx2_compat` knows the installed httpcore2: this fails loudly on a version it was not written
against, before a release claims that version."""

from __future__ import annotations

import pytest


def test_the_installed_httpcore2_is_one_httpx2_compat_supports() -> None:
    httpx2 = pytest.importorskip("httpx2")
    import httpcore2

    from meterly._engines import httpx2_compat

    assert httpx2_compat.supported(), (
        f"httpcore2 {httpcore2.__version__} is not in SUPPORTED_HTTPCORE2 {httpx2_compat.SUPPORTED_HTTPCORE2}"
    )
    with httpx2.Client() as client:
        assert httpx2_compat.bound_by_deadline(client)


def test_the_installed_httpx2_sends_as_the_direct_handover_expects() -> None:
    httpx2 = pytest.importorskip("httpx2")
    from meterly._engines.httpx_compat import sends_plainly

    assert sends_plainly(httpx2.Client(), httpx2.Client)
    assert sends_plainly(httpx2.AsyncClient(), httpx2.AsyncClient)
