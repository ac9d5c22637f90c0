"""Run comparison: the models two runs share, side by side, with their differences and the CIs of those."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import comparison, figures, queries, widgets

ROUTES = ("A2E", "A2Mid", "Mid2E", "Perceptual")
REGRESSION_METRICS = {"pearson_r": "Pearson r (higher is better)", "mse": "MSE (lower is better)"}

widgets.page("Run comparison")
st.markdown("Two runs (results databases) side by side: an album split against a random split, a confound of 0 against "
            "0.6, a CNN against a ViT. Run **A** is the one chosen in the sidebar, run **B** is chosen here; both are in "
            "the URL (`?run=…&against=…`), so a comparison can be shared as a link.")
db = widgets.require_database()
found = widgets.databases()
names = list(found) or [db.stem]
if st.session_state.get("against") not in names:  # first visit: the URL's run B, else the newest other run
    linked = st.query_params.get("against")
    st.session_state["against"] = linked if linked in names else next((n for n in names if n != db.stem), db.stem)
controls = st.columns([3, 3, 2, 3])
against = controls[0].selectbox("Against (run B)", names, key="against", help="Another results database in data/, newest first")
# Written to the URL by hand, not bound: a bound widget leaves its default out of the URL, and the default run B
# changes whenever a newer database appears, so a shared link must name run B whatever it is.
st.query_params["against"] = against
other = widgets.require_database(found.get(against, db))
match = controls[1].radio("Match models on", comparison.MATCHES, key="match", bind="query-params",
                          help="same experiment: the same route, input, feature set, head and variant (e.g. `@confound0`) in "
                               "both runs · other head or variant: the same route, input and feature set with another head "
                               "or variant (a CNN against a ViT, a confounded model against its clean twin), also within one run")
metric = controls[2].radio("Regression metric", list(REGRESSION_METRICS), key="metric", bind="query-params",
                           help=" · ".join(f"{m}: {label}" for m, label in REGRESSION_METRICS.items())
                                + " · perceptual models: balanced accuracy")
unpaired = controls[3].radio("CI when the test clips differ", comparison.UNPAIRED_METHODS, key="unpaired", bind="query-params",
                             help="Same test clips: always a paired bootstrap over clips. Different clips (another split or "
                                  "dataset): resample each run's clips independently, or a Welch t interval over the seeds "
                                  "(needs 2 seeds a side)")
same_run = db.resolve() == other.resolve()

st.caption(f"**A** · {widgets.run_label(db)}  \n**B** · {widgets.run_label(other)}")
if same_run and match == comparison.MATCH_SAME:
    st.info("Run A and run B are the same database. Choose another run as *Against*, or match models on *other head or "
            "variant* to compare the models of this run with each other (e.g. its CNN against its ViT).")
    st.stop()

result = widgets.compare_runs(db, other, regression_metric=metric, match=match, unpaired=unpaired)
experiments_a, experiments_b = widgets.read(db, queries.experiments), widgets.read(other, queries.experiments)
if result.empty:
    st.info("No model of run A matches one of run B" + (" by experiment: try *other head or variant*." if match == comparison.MATCH_SAME
                                                       else "."))
    st.stop()

routes = [r for r in ROUTES if r in set(result["route"])]
route = st.radio("Route", routes, key="route", bind="query-params", horizontal=True)
rows = result[result["route"] == route].reset_index(drop=True)
shown_metric = rows["metric"].iloc[0]
verdicts = rows["verdict"].value_counts()
tests = rows["CI"].unique()
st.markdown(f"**{len(rows)}** matched model(s): **{verdicts.get('A better', 0)}** better in A, **{verdicts.get('B better', 0)}** "
            f"better in B, **{verdicts.get('within noise', 0)}** within noise (the 95 % CI of A − B contains 0). "
            f"Metric: {comparison.METRICS[shown_metric]}; CI: {'; '.join(tests)}.")
if comparison.PAIRED not in tests:
    st.caption("The two runs' test clips differ (another split or dataset), so each model's figure rests on its own clips: "
               "the difference mixes the models with the test sets' difficulty.")

labels = rows["experiment_a"] if match == comparison.MATCH_SAME else rows["experiment_a"] + "  −  " + rows["experiment_b"]
forest = pd.DataFrame({"label": labels, "value": rows["difference"], "low": rows["low"], "high": rows["high"]})
widgets.chart(figures.interval_forest, forest, xaxis_title=f"A − B: {comparison.METRICS[shown_metric]}",
              name=f"{db.stem} against {other.stem} {route} {shown_metric}")
number = st.column_config.NumberColumn(format="%.3f")
table = rows.drop(columns=["route", "metric", "low", "high"])
if match == comparison.MATCH_SAME:
    table = table.drop(columns=["experiment_b"]).rename(columns={"experiment_a": "experiment_id"})
widgets.table(table.rename(columns={"a": f"A: {db.stem}", "b": f"B: {other.stem}", "difference": "A − B"}),
              name=f"{db.stem} against {other.stem} {route} {shown_metric}",
              column_config={c: number for c in (f"A: {db.stem}", f"B: {other.stem}", "A − B")})

st.subheader("The two runs")
provenance = []
for side, path, experiments in (("A", db, experiments_a), ("B", other, experiments_b)):
    runs = widgets.read(path, queries.runs)
    newest = runs.iloc[0] if not runs.empty else pd.Series(dtype=object)
    provenance.append({"run": f"{side}: {path.stem}", "profile": newest.get("profile"), "dataset": newest.get("dataset"),
                       "status": newest.get("status"), "git revision": newest.get("git_revision"),
                       "config hash": newest.get("config_hash"), "experiments": len(experiments),
                       "split": "; ".join(experiments["split_name"].unique())})
widgets.table(pd.DataFrame(provenance), name=f"runs {db.stem} against {other.stem}", latex=False)
if match == comparison.MATCH_SAME and not same_run:
    only_a = sorted(set(experiments_a["experiment_id"]) - set(experiments_b["experiment_id"]))
    only_b = sorted(set(experiments_b["experiment_id"]) - set(experiments_a["experiment_id"]))
    if only_a or only_b:
        with st.expander(f"Models without a match: {len(only_a)} only in A, {len(only_b)} only in B"):
            left, right = st.columns(2)
            left.markdown("\n".join(f"- `{e}`" for e in only_a) or "none")
            right.markdown("\n".join(f"- `{e}`" for e in only_b) or "none")
