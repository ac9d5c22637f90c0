"""The README's statement of what the demo's perceptual models learned must match a built database.

The sentence states the drum reliance of the shortcut CNN and of its clean twin (mean ± SD over the
explained test clips, and n). A second sentence names the methods whose drum contrast (shortcut
minus clean excess drum relevance) has a 95 % CI above 0, and those whose CI lies below 0 ("no
method" for none). The check reads the same figures from ``stem_reliance`` and ``attribution_agreement``; it runs on
``data/demo.duckdb`` when that database exists (``make database`` builds it) and is itself tested on
the tiny profile's database with a sentence written from it and with a wrong one.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
DEMO_DB = REPOSITORY / "data" / "demo.duckdb"
SHORTCUT, CLEAN = "shortcut", "clean"  # the CNN and its clean twin, whatever image they read (see cnn_ids)
CLAIM = re.compile(
    r"without its drums lowers the shortcut CNN's probability of its predicted class by "
    r"\*\*(?P<shortcut>[-+]?\d+\.\d+) ± (?P<shortcut_sd>\d+\.\d+)\*\* on average over (?P<n>\d+) test clips, "
    r"and the clean CNN's by \*\*(?P<clean>[-+]?\d+\.\d+) ± (?P<clean_sd>\d+\.\d+)\*\*"
)


def cnn_ids(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Experiment ids of the perceptual CNN (``shortcut``) and of its clean twin (``clean``)."""
    rows = [r[0] for r in con.execute(
        "SELECT experiment_id FROM experiments WHERE route = 'Perceptual' AND head = 'cnn' ORDER BY 1").fetchall()]
    return {SHORTCUT: next(r for r in rows if "@" not in r), CLEAN: next(r for r in rows if "@confound0" in r)}


def stored_reliance(db: Path, role: str) -> tuple[float, float, int]:
    """Return the stored drop in p(predicted class) without the drums, for the ``shortcut`` CNN or its ``clean`` twin.

    That is its mean and SD over clips, and the clips (seed 0).
    """
    con = duckdb.connect(str(db), read_only=True)
    try:
        experiment_id = cnn_ids(con)[role]
        row = con.execute(
            "SELECT avg(p_with - p_without), coalesce(stddev_samp(p_with - p_without), 0), count(*) FROM stem_reliance "
            "WHERE experiment_id = ? AND seed = 0 AND stem = 'drums'",
            [experiment_id],
        ).fetchone()
    finally:
        con.close()
    return float(row[0]), float(row[1]), int(row[2])


def claim_disagreements(text: str, db: Path) -> list[str]:
    """List what in the README's drum sentence disagrees with ``db`` (figures to their two printed decimals)."""
    match = CLAIM.search(" ".join(text.split()))
    if match is None:
        return ["the README has no drum-reliance sentence in the expected form"]
    problems = []
    for name, experiment in (("shortcut", SHORTCUT), ("clean", CLEAN)):
        mean, sd, n = stored_reliance(db, experiment)
        stated_mean, stated_sd = float(match[name]), float(match[f"{name}_sd"])
        if abs(stated_mean - mean) > 0.005 or abs(stated_sd - sd) > 0.005:
            problems.append(f"{name}: README says {stated_mean:.2f} ± {stated_sd:.2f}, {db.name} holds {mean:.3f} ± {sd:.3f}")
        if name == "shortcut" and int(match["n"]) != n:
            problems.append(f"README says {match['n']} clips, {db.name} holds {n}")
    return problems


METHODS = r"no method|`\w+`(?:(?:, | and )`\w+`)*"  # "no method", or back-quoted names joined by commas and "and"
CONTRAST_CLAIM = re.compile(
    rf"(?P<above>{METHODS}) gives? the shortcut model clearly more excess drum relevance than the clean one "
    rf"\(95 % CI above 0\), and (?P<below>{METHODS}) clearly less"
)


def named(methods: str) -> list[str]:
    """Return the method names of a :data:`METHODS` phrase, sorted (none for "no method")."""
    return sorted(re.findall(r"`(\w+)`", methods))


def contrast_disagreements(text: str, db: Path) -> list[str]:
    """List what in the README's drum-contrast sentence disagrees with the stored ``drum_contrast`` CIs of ``db``."""
    match = CONTRAST_CLAIM.search(" ".join(text.split()))
    if match is None:
        return ["the README has no drum-contrast sentence in the expected form"]
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("SELECT method, low, high FROM attribution_agreement WHERE measure = 'drum_contrast' AND seed = 0 "
                           "AND experiment_id = ?", [cnn_ids(con)[SHORTCUT]]).fetchall()
    finally:
        con.close()
    above = sorted(m for m, low, _ in rows if low > 0)
    below = sorted(m for m, _, high in rows if high < 0)
    problems = []
    if named(match["above"]) != above:
        problems.append(f"README says {named(match['above'])} have a CI above 0; {db.name} holds {above}")
    if named(match["below"]) != below:
        problems.append(f"README says {named(match['below'])} have a CI below 0; {db.name} holds {below}")
    return problems


def sentence(shortcut: tuple[float, float, int], clean: tuple[float, float, int]) -> str:
    return (f"Re-rendering a test clip without its drums lowers the shortcut CNN's probability of its predicted class "
            f"by **{shortcut[0]:.2f} ± {shortcut[1]:.2f}** on average over {shortcut[2]} test clips, and the clean "
            f"CNN's by **{clean[0]:.2f} ± {clean[1]:.2f}**.")


def test_the_check_accepts_a_true_sentence_and_names_a_wrong_one(tiny_db):
    shortcut, clean = stored_reliance(tiny_db, SHORTCUT), stored_reliance(tiny_db, CLEAN)
    assert claim_disagreements(sentence(shortcut, clean), tiny_db) == []
    wrong = sentence((shortcut[0] + 0.2, shortcut[1], shortcut[2]), clean)
    assert any(problem.startswith("shortcut: README says") for problem in claim_disagreements(wrong, tiny_db))
    assert claim_disagreements("no such sentence", tiny_db) == ["the README has no drum-reliance sentence in the expected form"]


def test_the_contrast_check_names_a_method_the_database_does_not_back(tiny_db):
    # random's contrast is exactly 0 (its CI is [0, 0]), so a sentence crediting it is always wrong
    text = ("`random` gives the shortcut model clearly more excess drum relevance than the clean one "
            "(95 % CI above 0), and `random` clearly less")
    problems = contrast_disagreements(text, tiny_db)
    assert len(problems) == 2 and problems[0].startswith("README says ['random'] have a CI above 0; tiny.duckdb holds")
    assert problems[1].startswith("README says ['random'] have a CI below 0")
    listed = ("`gradient_x_input` and `random` give the shortcut model clearly more excess drum relevance than the clean "
              "one (95 % CI above 0), and no method clearly less")
    match = CONTRAST_CLAIM.search(listed)
    assert named(match["above"]) == ["gradient_x_input", "random"] and named(match["below"]) == []
    assert contrast_disagreements("no such sentence", tiny_db) == ["the README has no drum-contrast sentence in the expected form"]


def test_the_readme_states_what_the_built_demo_database_holds():
    if not DEMO_DB.is_file():
        pytest.skip(f"{DEMO_DB} not built (make database)")
    con = duckdb.connect(str(DEMO_DB), read_only=True)
    try:
        has_rows = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'stem_reliance'").fetchone()[0]
    finally:
        con.close()
    if not has_rows:
        pytest.skip(f"{DEMO_DB} predates the causal tables; rebuild it")
    readme = (REPOSITORY / "README.md").read_text()
    assert claim_disagreements(readme, DEMO_DB) + contrast_disagreements(readme, DEMO_DB) == []
