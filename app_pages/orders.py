"""Orders page (being built)."""

import streamlit as st

from lib.pages import require

require("orders")
st.title("Orders")
st.info("This page is being built.")
