"""Seller page (being built)."""

import streamlit as st

from lib.pages import require

require("seller")
st.title("Seller")
st.info("This page is being built.")
