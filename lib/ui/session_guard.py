"""The sign-in check for the parts of a page that run without Home.py.

A click inside a fragment or a dialog reruns only that fragment, and a button's callback
runs before any script: none of them passes through Home.py, where a browser session that
was logged out in another tab (or has expired) is noticed. Without this, such a tab could
keep paging through customers or approving orders with the principal it was drawn with.

    @session_guard.fragment            # instead of @st.fragment
    @session_guard.fragment(run_every=1.0, key="progress")  # instead of @st.fragment(...)
    @session_guard.dialog("Refund")    # instead of @st.dialog(...)
    actions.run("order.approve", session_guard.actor(principal), order_id=7)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar, overload

import streamlit as st

from lib.access import auth
from lib.access.principal import Principal
from lib.config import runtime
from lib.ui.navigation import PRINCIPAL_KEY

P = ParamSpec("P")
R = TypeVar("R")


def holds(principal: Principal) -> bool:
    """Whether this browser session still belongs to `principal`."""
    now = auth.current(runtime.settings())
    return now is not None and now.username == principal.username


def actor(principal: Principal) -> Principal | None:
    """Who a page's action runs as: `principal` while the session the page was drawn for
    holds, else nobody (so lib.actions.run denies and audits it). Ask once per batch."""
    return principal if holds(principal) else None


def _signed_in_or_rerun() -> None:
    principal = st.session_state.get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal) or not holds(principal):
        st.rerun(scope="app")  # the whole app runs again, signed out: the sign-in form


def _guarded(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def body(*args: P.args, **kwargs: P.kwargs) -> R:
        _signed_in_or_rerun()
        return fn(*args, **kwargs)

    return body


@overload
def fragment(fn: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def fragment(
    *, run_every: float | timedelta | None = None, key: str | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def fragment(
    fn: Callable[P, R] | None = None,
    /,
    *,
    run_every: float | timedelta | None = None,
    key: str | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """`st.fragment` (plain, or with its `run_every` and `key`) that first checks this browser
    session is still signed in: on every rerun of its own, timed ones included."""

    def decorate(f: Callable[P, R]) -> Callable[P, R]:
        return st.fragment(_guarded(f), run_every=run_every, key=key)

    return decorate if fn is None else decorate(fn)


def dialog(title: str, **options: Any) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """`st.dialog` that first checks this browser session is still signed in."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        return st.dialog(title, **options)(_guarded(fn))

    return decorate
