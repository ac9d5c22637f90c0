"""Listening study: do listeners hear the predicted emotion in the sonified clip more than in its complement.

Without ``?study=`` the page is the experimenter's: set a study up, share its link, read its results.
With ``?study=<id>`` (the link a rater gets) it is the blind listening test: consent, then pairs of
sounds in random order without labels. Answers go to the study database (:mod:`dashboard.study_store`),
never to the read-only results database.
"""

from __future__ import annotations

import math
import os
from datetime import date
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from dashboard import export, queries, study_analysis, widgets
from dashboard.study_store import (
    COMPARISONS,
    MAX_RATERS,
    MAX_STUDY_TRIALS,
    MAX_TRIALS_PER_RATER,
    QUESTIONS,
    RATING_SCALE,
    StudyError,
    StudyStore,
    study_file,
    valid_rater_id,
    valid_study_id,
)
from results.store import DATA_DIR

STUDY_DIR = DATA_DIR / "studies"
DEFAULT_FILE = "listening"
PAGE_PATH = "listening_study"
NO_SOUND = ("This model has no stored sonified audio (the sonified clip and its complement) to play. A listening study "
            "needs a run whose perceptual stage stored sonifications; the demo profile does.")
CONSENT = """
**A short listening study on music and emotion.** You will hear {n} pairs of short sounds made from music, and answer
one question about each pair: *{question}* There are no right or wrong answers.

- Use headphones if you can, and listen to both sounds of a pair before you answer.
- Only your answers, the time of each and a random id are stored: no name, e-mail or IP address.
- Taking part is voluntary. You can stop at any time with **Stop**; the answers given until then are kept.
"""
COMPARISON_LABELS = {"complement": "its complement (what the model ignored)", "original": "the original clip"}
HIDE_SIDEBAR = "<style>[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl'], " \
               "[data-testid='stExpandSidebarButton'] {display: none;}</style>"


def pinned_study_database() -> Path | None:
    """Return the study database a hosted deployment pins: ``$MER_STUDY_DB``, else ``MER_STUDY_DB`` in its secrets."""
    if os.environ.get("MER_STUDY_DB"):
        return Path(os.environ["MER_STUDY_DB"])
    try:
        value = st.secrets.get("MER_STUDY_DB")
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        value = None
    return Path(str(value)) if value else None


@st.cache_resource(max_entries=8, show_spinner=False)
def open_store(path: str) -> StudyStore:
    """Return the one writer of a study database in this server process (every session shares it)."""
    return StudyStore(Path(path))


def study_link(study_id: str, file_name: str | None) -> str:
    """Return the rater's link to a study: this server's address, the page, ``?study=`` (and the study file)."""
    query = {"study": study_id} | ({"studies": file_name} if file_name else {})
    try:
        parts = urlsplit(st.context.url or "")
    except Exception:  # no browser (a test run): a link relative to the server
        parts = urlsplit("")
    base = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
    prefix = parts.path.rsplit("/", 1)[0] if parts.netloc else ""
    return f"{base}{prefix}/{PAGE_PATH}?{urlencode(query)}"


def not_the_results_database(path: Path) -> None:
    """Stop the page when the study database would be a results database (those are read-only)."""
    results = widgets.database()
    if path.suffix == ".duckdb" or (results is not None and path.resolve() == results.resolve()):
        st.error(f"The study database must be a file of its own (`.sqlite`), not a results database: {path}")
        st.stop()


# --- rater mode -------------------------------------------------------------------------------------------------------


def start_rating(store: StudyStore, study_id: str) -> None:
    """Enrol a new anonymous rater (the consent button's callback)."""
    try:
        st.session_state["rater"] = store.add_rater(study_id)
    except StudyError as error:
        st.session_state["study_message"] = str(error)


def submit_answer(store: StudyStore, rater_id: str, position: int, pairwise: bool) -> None:
    """Store the answer of the trial at ``position`` (the form's callback); a missing answer leaves a note."""
    key = f"{rater_id}-{position}"
    try:
        if pairwise:
            picked = st.session_state.get(f"choice-{key}")
            if picked not in ("Sound 1", "Sound 2"):
                raise StudyError("Choose Sound 1 or Sound 2 first.")
            store.record(rater_id, position, choice=1 if picked == "Sound 1" else 2)
        else:
            ratings = (st.session_state.get(f"rating1-{key}"), st.session_state.get(f"rating2-{key}"))
            if None in ratings:
                raise StudyError("Rate both sounds first.")
            store.record(rater_id, position, ratings=(int(ratings[0]), int(ratings[1])))
    except StudyError as error:
        st.session_state["study_message"] = str(error)


def stop_rating(store: StudyStore, rater_id: str) -> None:
    """Mark the rater as stopped (the Stop button's callback)."""
    store.stop(rater_id)


def show_message() -> None:
    """Show (once) the note a callback left."""
    message = st.session_state.pop("study_message", None)
    if message:
        st.warning(message)


def rater_page(study_id: str, path: Path) -> None:
    """Draw the blind listening test of one study for one anonymous rater."""
    st.html(HIDE_SIDEBAR)  # no run picker and no other page: nothing that names what is played
    widgets.page("Listening study")
    if not valid_study_id(study_id) or not path.is_file():
        st.info("This study link is not valid. Check the link you were given.")
        st.stop()
    store = open_store(str(path))
    study = store.study(study_id)
    if study is None:
        st.info("This study link is not valid. Check the link you were given.")
        st.stop()
    linked = st.query_params.get("rater")
    rater_id = linked if valid_rater_id(linked) else st.session_state.get("rater")
    enrolled = store.rater_study(rater_id) if valid_rater_id(rater_id) else None
    if enrolled is None or enrolled[0] != study_id:
        show_message()
        if not study.open:
            st.info("This study is closed. Thank you for your interest.")
            st.stop()
        st.markdown(CONSENT.format(n=study.trials_per_rater, question=QUESTIONS[study.question]))
        st.button("I agree, start", type="primary", key="consent", on_click=start_rating, args=(store, study_id))
        st.stop()
    st.session_state["rater"] = rater_id
    if st.query_params.get("rater") != rater_id:
        st.query_params["rater"] = rater_id  # the link now resumes this rater, after a reload or a server restart
    answered, total = store.progress(rater_id)
    if enrolled[1]:
        st.info(f"You stopped after {answered} of {total} pairs. Thank you: your answers are kept. You can close this page.")
        st.stop()
    trial = store.next_trial(rater_id)
    if trial is None:
        st.success(f"All {total} pairs are done. Thank you for taking part! You can close this page.")
        st.stop()
    st.progress(answered / total, text=f"Pair {answered + 1} of {total}")
    show_message()
    db = Path(study.results_db)
    sonified = other = None
    if db.is_file():
        sonified = widgets.read(db, queries.sonified_audio, study.experiment_id, seed=study.seed, clip_id=trial.clip_id,
                                method=trial.method, gain=study.gain, variant="sonified")
        if study.comparison == "original":
            other = widgets.read(db, queries.original_audio, dataset=study.dataset, clip_id=trial.clip_id)
        else:
            other = widgets.read(db, queries.sonified_audio, study.experiment_id, seed=study.seed, clip_id=trial.clip_id,
                                 method=trial.method, gain=study.gain, variant="complement")
    if sonified is None or other is None:
        st.error("The sounds of this pair are missing from the study's results database. Please tell the experimenter.")
        st.stop()
    sounds = (sonified, other) if trial.sonified_first else (other, sonified)
    for column, number, sound in zip(st.columns(2), (1, 2), sounds):
        column.markdown(f"**Sound {number}**")
        column.audio(sound, format="audio/ogg")
    key = f"{rater_id}-{trial.position}"
    with st.form(f"trial-{key}", border=False):
        if study.pairwise:
            st.radio(QUESTIONS[study.question], ["Sound 1", "Sound 2"], index=None, horizontal=True, key=f"choice-{key}")
        else:
            st.markdown(QUESTIONS[study.question])
            for number in (1, 2):
                st.radio(f"Sound {number}", RATING_SCALE, index=None, horizontal=True, key=f"rating{number}-{key}")
        st.form_submit_button("Next", type="primary", on_click=submit_answer,
                              args=(store, rater_id, trial.position, study.pairwise))
    st.button("Stop", key="stop", on_click=stop_rating, args=(store, rater_id),
              help="End the study here; your answers so far are kept.")


# --- experimenter mode ------------------------------------------------------------------------------------------------


def study_location() -> tuple[Path, str | None]:
    """Return the study database and the file name a rater's link must carry (None: the default or a pinned file)."""
    pinned = pinned_study_database()
    if pinned is not None:
        st.sidebar.caption(f"Study database: `{pinned.name}` (writable)")
        return pinned, None
    name = st.sidebar.text_input("Study file", value=DEFAULT_FILE, max_chars=40, key="studies", bind="query-params",
                                 help="Answers are kept in `data/studies/<name>.sqlite`, apart from the results. "
                                      "Set `$MER_STUDY_DB` to pin one file (hosted mode).")
    try:
        path = study_file(name or DEFAULT_FILE, STUDY_DIR)
    except StudyError as error:
        st.sidebar.warning(f"{error} Using `{DEFAULT_FILE}`.")
        name, path = DEFAULT_FILE, study_file(DEFAULT_FILE, STUDY_DIR)
    return path, None if name == DEFAULT_FILE else name


def new_study(path: Path, file_name: str | None) -> None:
    """Draw the experimenter's form for a new study on the chosen run."""
    db = widgets.require_database()
    experiment, dataset, seed = widgets.vit_model(db)
    stored = widgets.read(db, queries.stored_model, experiment)
    gains = [g.name for g in stored.gains] if stored is not None else []
    if not gains:
        st.info(NO_SOUND)
        st.stop()
    plain = stored.plain_gain(power=2.0)
    gain = st.selectbox("Sonification gain", gains, index=gains.index(plain.name) if plain else 0, key="study_gain")
    candidates = widgets.read(db, queries.study_candidates, experiment, seed=seed, gain=gain, dataset=dataset)
    if candidates.empty:
        st.info(NO_SOUND)
        st.stop()
    left, right = st.columns(2)
    comparison = left.radio("Play the sonified clip against", COMPARISONS, format_func=COMPARISON_LABELS.get,
                            key="study_comparison")
    question = right.radio("Question", list(QUESTIONS), format_func=QUESTIONS.get, key="study_question")
    if comparison == "original":
        candidates = candidates[candidates["has_original"]]
    methods_stored = sorted(candidates["method"].unique())
    methods = st.multiselect("Attribution methods", methods_stored, default=methods_stored, key="study_methods",
                             help="Keep `random` as the chance reference: its sonified clip keeps random regions.")
    clips = candidates.drop_duplicates("clip_id")[["clip_id", "actual", "predicted", "confidence"]]
    chosen_clips = st.multiselect("Clips", clips["clip_id"].tolist(), default=clips["clip_id"].tolist(), key="study_clips",
                                  help="The explained test clips; the sonified clip should sound like the class the model "
                                       "predicted.")
    picked = candidates[candidates["method"].isin(methods) & candidates["clip_id"].isin(chosen_clips)]
    by_class = picked.drop_duplicates("clip_id")["predicted"].value_counts()
    st.caption(f"{len(picked)} trials: {picked['clip_id'].nunique()} clips (predicted Happy {by_class.get('happy', 0)}, "
               f"Sad {by_class.get('sad', 0)}) × {len(methods)} methods, at most {MAX_STUDY_TRIALS}.")
    left, middle, right = st.columns([1, 1, 2])
    per_rater = left.number_input("Trials per rater", 1, MAX_TRIALS_PER_RATER, min(20, max(1, len(picked))), key="study_per_rater",
                                  help="Each rater hears this many trials, those heard least so far first, in random order.")
    max_raters = middle.number_input("Raters at most", 1, MAX_RATERS, 50, key="study_max_raters")
    name = right.text_input("Study name", value=f"{experiment.rsplit('/', 1)[-1]} {date.today():%Y-%m-%d}", max_chars=60,
                            key="study_name")
    if st.button("Create study", type="primary", key="create_study", disabled=picked.empty):
        try:
            study_id = open_store(str(path)).create_study(
                name=name, results_db=str(db.resolve()), experiment_id=experiment, seed=int(seed), dataset=dataset,
                gain=gain, comparison=comparison, question=question, trials_per_rater=int(per_rater),
                max_raters=int(max_raters), trials=list(picked[["clip_id", "method", "predicted"]].itertuples(index=False)))
        except StudyError as error:
            st.error(str(error))
        else:
            st.success(f"Study created. Send raters this link (results under **Results**): {study_link(study_id, file_name)}")


def results(path: Path, file_name: str | None) -> None:
    """Draw the analysis of one study of the file: agreement with the model and between raters, raw answers."""
    store = open_store(str(path)) if path.is_file() else None
    studies = store.studies() if store is not None else None
    if store is None or studies.empty:
        st.info(f"No study in `{path.name}` yet: set one up under **New study**.")
        return
    labels = dict(zip(studies["study_id"], studies["name"] + " · " + studies["study_id"]))
    study_id = st.selectbox("Study", list(labels), format_func=labels.get, key="study_pick")
    study = store.study(study_id)
    st.caption(f"{study.experiment_id} (seed {study.seed}), gain {study.gain}, sonified clip against "
               f"{COMPARISON_LABELS[study.comparison]}; question: *{QUESTIONS[study.question]}* Created {study.created_at}, "
               f"{study.trials_per_rater} trials per rater.")
    st.code(study_link(study_id, file_name), language=None)
    is_open = st.toggle("Open to new raters", value=study.open, key=f"open-{study_id}")
    if is_open != study.open:
        store.set_open(study_id, is_open)
    raters = store.raters(study_id)
    responses = store.responses(study_id)
    done = int((raters["answered"] == raters["trials"]).sum())
    figures = st.columns(4)
    figures[0].metric("Raters", len(raters))
    figures[1].metric("Finished", done)
    figures[2].metric("Stopped early", int(raters["stopped_at"].notna().sum()))
    figures[3].metric("Answers", len(responses))
    if responses.empty:
        st.info("No answers yet.")
        return
    judged = study_analysis.judgements(responses, question=study.question)
    st.subheader("Do listeners hear the model's emotion in the sonified clip?")
    st.caption("Agreement: the share of answers where the sonified clip sounded more like the predicted class than "
               f"{COMPARISON_LABELS[study.comparison]} (chance 0.5; valence ties left out). 95 % Wilson and Clopper–Pearson "
               "intervals treat answers as independent; answers of one rater or one clip are not quite, so read them "
               "as a lower bound on the uncertainty.")
    widgets.table(study_analysis.agreement_by_method(judged), name=f"study {study_id} agreement with the model",
                  key="study_agreement", column_config={c: st.column_config.NumberColumn(format="%.3f") for c in
                                                        ("agreement", "wilson_low", "wilson_high", "cp_low", "cp_high")})
    st.subheader("Do listeners agree with each other?")
    st.caption("Over trials heard by two raters or more: Fleiss' kappa (0 is chance, 1 full agreement) and the share of "
               "pairs of raters who heard the same sound as happier, with 95 % bootstrap intervals over trials.")
    between = study_analysis.rater_agreement(judged)
    if between["trials"].iloc[-1] == 0:
        trials = int(studies.set_index("study_id").loc[study_id, "trials"])
        st.info(f"No trial has been heard by two raters yet. Each rater hears the trials heard least so far, so with "
                f"{trials} trials and {study.trials_per_rater} per rater that takes at least "
                f"{math.ceil(2 * trials / study.trials_per_rater)} raters.")
    else:
        widgets.table(between, name=f"study {study_id} agreement between raters", key="study_raters",
                      column_config={c: st.column_config.NumberColumn(format="%.3f") for c in between.columns[2:]})
    raw = study_analysis.export_frame(judged, study_id=study_id, comparison=study.comparison, question=study.question)
    st.download_button("Raw answers (CSV)", data=export.table_csv(raw), file_name=f"study_{study_id}_answers.csv",
                       mime="text/csv", key="study_csv", icon=":material/download:", on_click="ignore")


study_id = st.query_params.get("study")
if study_id is not None:
    location = pinned_study_database()
    if location is None:
        linked_file = st.query_params.get("studies") or DEFAULT_FILE
        try:
            location = study_file(linked_file, STUDY_DIR)
        except StudyError:
            location = STUDY_DIR / "missing.sqlite"  # never created: the link is refused below
    not_the_results_database(location)
    rater_page(study_id, location)
    st.stop()

widgets.page("Listening study")
st.markdown("A blind test of an attribution method: listeners hear the sonified clip (what the model used) and "
            "its complement or the original, in random order and without labels, and say which sounds happier or rate "
            "both. If the method shows what the model heard, the sonified clip sounds more like the predicted class.")
study_path, study_file_name = study_location()
not_the_results_database(study_path)
view = st.radio("View", ["New study", "Results"], horizontal=True, key="study_view", bind="query-params",
                label_visibility="collapsed")
if view == "Results":
    results(study_path, study_file_name)
else:
    new_study(study_path, study_file_name)
