"""Backoffice entry point: page config, sign-in, and navigation over the pages a role may open."""

import streamlit as st

from lib import auth, runtime
from lib.errors import ConfigError
from lib.pages import PRINCIPAL_KEY, allowed_pages

st.set_page_config(page_title="Backoffice", page_icon=":material/dashboard:", layout="wide")

try:
    settings = runtime.settings()
    principal = auth.signed_in(settings)
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
    st.stop()

st.session_state[PRINCIPAL_KEY] = principal
with st.sidebar:
    st.markdown(f"**{principal.name}**  \n{', '.join(principal.roles)}")
    auth.logout_button(settings)

nav = st.navigation(
    [
        st.Page(
            p.file,
            title=p.title,
            icon=p.icon,
            url_path=p.url_path or None,
            default=p.url_path == "",
        )
        for p in allowed_pages(principal)
    ]
)
nav.run()
