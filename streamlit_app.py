"""SAE Playground: watch a sparse autoencoder pull features out of superposed activations."""

import streamlit as st
import torch

from app_ui.session import (init_session, keep_settings, link_banner, settle_interrupted_run, sidebar_controls,
                               sidebar_status, sync_url)

# One thread per session: on a shared server one visitor's training cannot take every core.
torch.set_num_threads(1)

st.set_page_config(page_title="SAE Playground", page_icon=":material/scatter_plot:", layout="wide")
init_session()
keep_settings()
settle_interrupted_run()
link = sync_url()  # this run's link: the URL and the sidebar's Copy link box

pages = st.navigation([
    st.Page("app_pages/lesson.py", title="Lesson", icon=":material/school:", default=True),
    st.Page("app_pages/data.py", title="Data", icon=":material/table:"),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("app_pages/features.py", title="Features", icon=":material/insights:"),
    st.Page("app_pages/stability.py", title="Stability", icon=":material/verified:"),
    st.Page("app_pages/sweep.py", title="Sweep", icon=":material/scatter_plot:"),
    st.Page("app_pages/superposition.py", title="Superposition", icon=":material/join_inner:"),
    st.Page("app_pages/real_model.py", title="Real model", icon=":material/neurology:"),
])
# The page may change the table or the model (an edit, Train, Stop): write the sidebar status
# before the page runs and again after it, so it never lags one rerun behind.
status = st.sidebar.empty()
sidebar_status(status.container())
sidebar_controls(link)
link_banner()
pages.run()
sidebar_status(status.container())
