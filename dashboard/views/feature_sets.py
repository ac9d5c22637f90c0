"""Feature sets: every input, feature set and head side by side, per emotion, against the thesis.

The page also shows what the interpretable mid-level bottleneck costs.
"""

from __future__ import annotations

import streamlit as st

from dashboard import figures, queries, verdicts, widgets

widgets.page("Feature sets")
db = widgets.require_database()

METRICS = {"pearson_r": "Pearson r (higher is better)", "mse": "MSE on the label scale (lower is better)"}
ROUTES = {"A2E": "audio → emotion", "A2Mid": "audio → mid-level", "Mid2E": "mid-level → emotion"}
summary_all = widgets.read(db, queries.metric_summary, metric="pearson_r")
routes = [r for r in ROUTES if r in set(summary_all["route"])]
if not routes:
    st.info("This database holds no regression experiments.")
    st.stop()

left, right = st.columns([1, 2])
route = left.radio("Route", routes, horizontal=True, key="route", bind="query-params",
                   help=" · ".join(f"{r}: {ROUTES[r]}" for r in routes))
metric = right.radio("Metric", list(METRICS), horizontal=True, key="metric", bind="query-params",
                     help=" · ".join(f"{m}: {label}" for m, label in METRICS.items()))

summary = widgets.read(db, queries.metric_summary, metric=metric)
summary = summary[summary["route"] == route]
all_reference = widgets.read(db, queries.reference_figures)
thesis = widgets.read(db, queries.matched_reference, route=route, metric=metric)
number = st.column_config.NumberColumn(format="%.3f")
# Tabs bound to the URL (?view=...): only the open tab is computed and drawn, so a page switch draws
# one or two charts instead of four.
views = ["By experiment", "Per emotion scale", *(["Cost of explainability"] if {"A2E", "Mid2E"} <= set(routes) else []),
         "Training curves"]
tabs = dict(zip(views, st.tabs(views, key="view", bind="query-params")))

if tabs["By experiment"].open:
    with tabs["By experiment"]:
        thesis_all = thesis[thesis["target"] == "all"]
        st.subheader(f"{route} ({ROUTES[route]}): mean over the emotion scales, mean ± SD over seeds")
        widgets.chart(figures.metric_bars, summary, metric_label=METRICS[metric], reference=thesis_all, name=f"{route} {metric} by experiment")
        if not thesis_all.empty:
            st.caption("Grey bars: the figures **reported in the thesis** for the same route, input, feature set and head (its own "
                       "random 80/20 split). Its Mid2E figures are all on descriptors *predicted* by an A2Mid model trained on MTG; "
                       "they are shown beside this run's models of the same head and feature set whatever their descriptors "
                       "(column *thesis input*).")
        elif all_reference.empty:
            st.caption("The thesis's figures appear here when the run's `--data-root` holds `thesis-figures.csv`.")
        else:
            st.caption("The thesis reports no figure for these exact experiments.")

        table = summary[["experiment_id", "input", "feature_set", "head", "mean", "sd", "seeds"]]
        per_seed = widgets.read(db, queries.metric_per_seed, metric=metric)
        per_seed = per_seed[per_seed["route"] == route]
        table = table.assign(**{"mean [95 % CI], n": [
            verdicts.seed_summary(per_seed.loc[per_seed["experiment_id"] == e, "value"], head=h)
            for e, h in zip(table["experiment_id"], table["head"])]})
        if metric == "pearson_r":
            table = table.merge(widgets.read(db, queries.comparison_with_best, route=route), on="experiment_id", how="left")
        flags = widgets.read(db, queries.model_flags)
        table = table.merge(flags, on="experiment_id", how="left").fillna({"flag": ""})
        if not thesis_all.empty:
            table = table.merge(thesis_all[["experiment_id", "mean", "sd", "thesis_input"]].rename(
                columns={"mean": "thesis mean", "sd": "thesis sd", "thesis_input": "thesis input"}), on="experiment_id", how="left")
        if metric == "pearson_r":
            within = table[table["verdict"] == "within noise"]["experiment_id"].tolist()
            st.markdown(f"**{len(within)} of {len(table) - 1}** other models are **within noise** of the best "
                        f"(`{summary.sort_values('mean', ascending=False)['experiment_id'].iloc[0]}`): the paired bootstrap "
                        "95 % CI of their difference in mean r on the same test clips (predictions averaged over seeds) "
                        "includes 0. Differences between those models are not evidence.")
        st.caption("Click a column header to sort. *flag*: flat predictions, or worse than predicting each scale's test mean.")
        widgets.table(table, name=f"{route} {metric} by experiment", column_config={c: number for c in ("mean", "sd", "thesis mean", "thesis sd")})
        split = widgets.read(db, queries.experiments)
        split = split[split["route"] == route]["split_name"].unique()
        st.caption("Split: " + "; ".join(split))

if tabs["Per emotion scale"].open:
    with tabs["Per emotion scale"]:
        st.subheader(f"{route} ({ROUTES[route]}) per emotion scale, mean ± SD over seeds")
        per_target = widgets.read(db, queries.per_target_metrics, metric=metric, route=route)
        chosen = st.multiselect("Experiments", summary["experiment_id"].tolist(), default=summary["experiment_id"].tolist()[:4],
                                key="experiments")
        per_target = per_target[per_target["experiment_id"].isin(chosen)]
        thesis_targets = thesis[(thesis["target"] != "all") & thesis["experiment_id"].isin(chosen)]
        widgets.chart(figures.per_target_bars, per_target, metric_label=METRICS[metric], reference=thesis_targets,
                      name=f"{route} {metric} per emotion")
        wide = per_target.pivot(index="experiment_id", columns="target", values="mean")
        widgets.table(wide, name=f"{route} {metric} per emotion", style="{:.3f}")

if "Cost of explainability" in tabs and tabs["Cost of explainability"].open:
    with tabs["Cost of explainability"]:
        st.subheader("The cost of explainability: mid-level bottleneck against direct audio models")
        cost = widgets.read(db, queries.explainability_cost, metric=metric)
        direct = cost["direct_experiment"].iloc[0]
        st.caption(f"Each Mid2E model explains its prediction through named musical descriptors; the direct model "
                   f"(`{direct}`, the best A2E model here, {cost['direct_mean'].iloc[0]:.3f}) does not. *change* = bottleneck − "
                   "direct: " + ("a negative change in r is what the interpretable bottleneck costs." if metric == "pearson_r"
                                 else "a positive change in MSE is what the interpretable bottleneck costs.")
                   + " Annotated descriptors are the ceiling (perfect descriptors); predicted and estimated ones are what a "
                   "user has for new audio. This comparison does not depend on the route chosen above.")
        st.markdown(verdicts.cost_sentence(cost, metric=metric))
        widgets.chart(figures.cost_bars, cost, metric_label=METRICS[metric], name=f"explainability cost {metric}")
        widgets.table(cost.drop(columns=["direct_experiment"]), name=f"explainability cost {metric}",
                      column_config={c: number for c in ("mean", "sd", "direct_mean", "change")})

if tabs["Training curves"].open:
    with tabs["Training curves"]:
        st.subheader(f"{route} ({ROUTES[route]}): training curves")
        names = summary["experiment_id"].tolist()
        # open on a trained network: closed-form heads have no epochs to show
        trained = [i for i, h in enumerate(summary["head"]) if h not in verdicts.DETERMINISTIC_HEADS]
        experiment = st.selectbox("Experiment", names, index=trained[0] if trained else 0, key="curves")
        history = widgets.read(db, queries.training_history, experiment)
        if history.empty:
            st.caption("Closed-form model (ridge with cross-validated λ), or a late fusion built from its separately "
                       "trained branches (`fusion = \"branches_first\"`; their curves are under the spectrogram and "
                       "chromagram experiments): no epochs to show.")
        else:
            widgets.chart(figures.training_curves, history, name=f"training curves {experiment}")
