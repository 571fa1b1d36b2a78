"""Backoffice entry point: page config, sign-in, and navigation over the pages a role may open."""

import streamlit as st

from lib.access import auth, session_cookie
from lib.config import runtime
from lib.errors import ConfigError
from lib.jobs import worker as jobs
from lib.ui.navigation import PRINCIPAL_KEY, navigation, signed_out_navigation
from lib.ui.widgets import escape_markdown

st.set_page_config(page_title="Backoffice", page_icon=":material/dashboard:", layout="wide")

try:
    settings = runtime.settings()
    # This process's notification deliveries and scheduled reports, signed in or not (any
    # served page keeps them going); made once per process, cheap on every later run.
    jobs.for_process(settings, runtime.engine())
    principal = auth.current(settings)  # this session's, or the browser's cookie's
    if principal is None:
        # Every page URL shows the form, so a deep link (/orders?status=pending) keeps its
        # path and query through sign-in and lands on its view after.
        signed_out_navigation()
        if auth.sign_in_form(settings) is not None:
            st.rerun()  # signed in just now: run again with the pages this role may open
except ConfigError as exc:
    st.error(str(exc), icon=":material/settings_alert:")
    st.stop()

if principal is None:
    st.session_state.pop(PRINCIPAL_KEY, None)
    if settings.demo:
        st.caption(
            "Demo logins: admin, operator, support, analyst, auditor, seller1, seller2 — "
            "password is the username followed by `-demo` (e.g. `admin-demo`)."
        )
    session_cookie.draw_writer()  # deletes the cookie after a logout
    st.stop()

st.session_state[PRINCIPAL_KEY] = principal
nav = navigation(principal)
with st.sidebar:
    st.divider()
    st.markdown(f"**{escape_markdown(principal.name)}**  \n{', '.join(principal.roles)}")
    auth.logout_button(principal)
    session_cookie.draw_writer()  # sets the cookie after sign-in, whichever run completes
nav.run()
