"""The MER workbench: entry point. Run with ``streamlit run dashboard/Home.py``.

It sets the page layout, draws the run selector that every page honours (sidebar, ``?run=`` in the URL),
and hands over to the page named by the URL path. Pages live in ``dashboard/views/``; each one only
reads the chosen results database and lays it out.
"""

from __future__ import annotations

import streamlit as st

from dashboard import widgets

st.set_page_config(page_title="MER workbench", page_icon="🎧", layout="wide")

PAGES = {
    "Overview": [
        st.Page("views/overview.py", title="Home", icon=":material/home:", url_path="home", default=True),
        st.Page("views/compare.py", title="Run comparison", icon=":material/compare_arrows:", url_path="compare"),
    ],
    "Feature route": [
        st.Page("views/feature_sets.py", title="Feature sets", icon=":material/bar_chart:", url_path="feature_sets"),
        st.Page("views/midlevel.py", title="Mid-level explanations", icon=":material/explore:", url_path="midlevel"),
        st.Page("views/descriptors.py", title="Descriptors and harmony", icon=":material/music_note:", url_path="descriptors"),
    ],
    "Perceptual route": [
        st.Page("views/confusion.py", title="Confusion browser", icon=":material/headphones:", url_path="confusion"),
        st.Page("views/attribution_quality.py", title="Attribution quality", icon=":material/balance:", url_path="attribution_quality"),
        st.Page("views/explain_clip.py", title="Explain your clip", icon=":material/upload_file:", url_path="explain_clip"),
        st.Page("views/listening_study.py", title="Listening study", icon=":material/hearing:", url_path="listening_study"),
    ],
}

navigation = st.navigation(PAGES)
widgets.redirect_to_page_parameter(PAGES)
widgets.run_selector()
navigation.run()
