"""Customers page (being built)."""

import streamlit as st

from lib.pages import require

require("customers")
st.title("Customers")
st.info("This page is being built.")
