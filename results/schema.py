"""The results database schema: its tables, its version, its routes and experiment ids.

Written here once and documented table by table in ``data/SCHEMA.md``. Conventions:

- ``experiment_id`` is ``route/input/head[/feature_set][@variant]`` (:func:`experiment_id`), e.g.
  ``A2E/spectrogram/cnn``, ``Mid2E/annotated_midlevel/ridge/7`` or
  ``Perceptual/log_spectrogram_224/cnn@confound0``; ``seed`` is the training seed (0 for
  deterministic heads).
- Empty strings, never NULL, fill key columns that do not apply.
- 2-D arrays and audio are stored as :mod:`results.codecs` says.
- ``runs.config`` holds the profile as resolved (every key, defaults filled in) and
  ``experiments.settings`` the resolved section of the experiment: a reader never supplies a default.
- ``runs.cluster`` describes the Ray cluster a run used (``--ray``; JSON: nodes, CPUs, GPUs, Ray
  version); it is NULL for a run on one machine.
"""

from __future__ import annotations

SCHEMA_VERSION = 5
"""Version 5: the model's-ear check (``ear_checks``) and the Ray cluster of a run (``runs.cluster``).
Version 4: stored configs and settings are resolved (every key present)."""

A2E_ROUTE = "A2E"
A2MID_ROUTE = "A2Mid"
MID2E_ROUTE = "Mid2E"
PERCEPTUAL_ROUTE = "Perceptual"
ROUTES: dict[str, str] = {
    A2E_ROUTE: "audio → emotion",
    A2MID_ROUTE: "audio → mid-level",
    MID2E_ROUTE: "mid-level → emotion",
    PERCEPTUAL_ROUTE: "audio → Happy/Sad (a spectrogram-image classifier: ViT or CNN)",
}
"""Every route an experiment belongs to, with what it maps."""


def experiment_id(route: str, input: str, head: str, *, feature_set: str = "", variant: str = "") -> str:
    """Return the id of an experiment: ``route/input/head[/feature_set][@variant]``.

    Parameters
    ----------
    route : str
        One of :data:`ROUTES`.
    input : str
        What the model reads, e.g. ``"spectrogram"`` or ``"annotated_midlevel"``.
    head : str
        The model, e.g. ``"cnn"``, ``"ridge"`` or ``"vit_tiny_patch16_224"``.
    feature_set : str, optional
        The descriptor set of a Mid2E experiment, e.g. ``"7"``.
    variant : str, optional
        A variant trained on other data, e.g. ``"confound0"`` for a perceptual model's clean twin.

    Returns
    -------
    str
        The experiment id.

    Raises
    ------
    ValueError
        ``route`` is not a known route.

    Examples
    --------
    >>> experiment_id("Mid2E", "annotated_midlevel", "ridge", feature_set="7")
    'Mid2E/annotated_midlevel/ridge/7'
    >>> experiment_id("Perceptual", "log_spectrogram", "cnn", variant="confound0")
    'Perceptual/log_spectrogram/cnn@confound0'
    """
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; routes: {list(ROUTES)}")
    parts = [route, input, head, *([feature_set] if feature_set else [])]
    return "/".join(parts) + (f"@{variant}" if variant else "")

TABLES: dict[str, str] = {
    "schema_info": """
        version INTEGER NOT NULL
    """,
    "runs": """
        run_id INTEGER PRIMARY KEY,
        profile VARCHAR NOT NULL,
        dataset VARCHAR NOT NULL,
        config JSON NOT NULL,
        config_hash VARCHAR NOT NULL,
        versions JSON NOT NULL,
        git_revision VARCHAR NOT NULL,
        device VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        status VARCHAR NOT NULL,
        cluster JSON
    """,
    "work_units": """
        unit VARCHAR PRIMARY KEY,
        run_id INTEGER NOT NULL,
        seconds DOUBLE NOT NULL,
        peak_rss_mb DOUBLE NOT NULL,
        finished_at TIMESTAMP NOT NULL
    """,
    "clips": """
        dataset VARCHAR NOT NULL,
        clip_id VARCHAR NOT NULL,
        group_id VARCHAR NOT NULL,
        split VARCHAR NOT NULL,
        label VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        PRIMARY KEY (dataset, clip_id)
    """,
    "clip_values": """
        dataset VARCHAR NOT NULL,
        clip_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        value DOUBLE NOT NULL,
        PRIMARY KEY (dataset, clip_id, kind, name)
    """,
    "clip_features": """
        dataset VARCHAR NOT NULL,
        clip_id VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        name VARCHAR NOT NULL,
        value DOUBLE NOT NULL,
        PRIMARY KEY (dataset, clip_id, source, seed, name)
    """,
    "skipped_clips": """
        dataset VARCHAR NOT NULL,
        clip_id VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        PRIMARY KEY (dataset, clip_id)
    """,
    "experiments": """
        experiment_id VARCHAR PRIMARY KEY,
        route VARCHAR NOT NULL,
        input VARCHAR NOT NULL,
        head VARCHAR NOT NULL,
        feature_set VARCHAR NOT NULL,
        dataset VARCHAR NOT NULL,
        split_name VARCHAR NOT NULL,
        description VARCHAR NOT NULL,
        settings JSON NOT NULL
    """,
    "trainings": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        n_train INTEGER NOT NULL,
        n_val INTEGER NOT NULL,
        n_test INTEGER NOT NULL,
        best_epoch INTEGER NOT NULL,
        epochs_run INTEGER NOT NULL,
        best_val_loss DOUBLE,
        seconds DOUBLE NOT NULL,
        PRIMARY KEY (experiment_id, seed)
    """,
    "training_history": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        train_loss DOUBLE NOT NULL,
        val_loss DOUBLE NOT NULL,
        PRIMARY KEY (experiment_id, seed, epoch)
    """,
    "metrics": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        split VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        metric VARCHAR NOT NULL,
        value DOUBLE,
        PRIMARY KEY (experiment_id, seed, split, target, metric)
    """,
    "predictions": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        clip_id VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        predicted DOUBLE NOT NULL,
        actual DOUBLE NOT NULL,
        PRIMARY KEY (experiment_id, seed, clip_id, target)
    """,
    "classifications": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        clip_id VARCHAR NOT NULL,
        actual VARCHAR NOT NULL,
        predicted VARCHAR NOT NULL,
        confidence DOUBLE NOT NULL,
        p_happy DOUBLE NOT NULL,
        PRIMARY KEY (experiment_id, seed, clip_id)
    """,
    "coefficients": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        feature VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        value DOUBLE NOT NULL,
        PRIMARY KEY (experiment_id, seed, feature, target)
    """,
    "shap_values": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        clip_id VARCHAR NOT NULL,
        feature VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        value DOUBLE NOT NULL,
        feature_value DOUBLE NOT NULL,
        PRIMARY KEY (experiment_id, seed, clip_id, feature, target)
    """,
    "shap_base_values": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        target VARCHAR NOT NULL,
        base_value DOUBLE NOT NULL,
        PRIMARY KEY (experiment_id, seed, target)
    """,
    "images": """
        dataset VARCHAR NOT NULL,
        clip_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        height INTEGER NOT NULL,
        width INTEGER NOT NULL,
        max_hz DOUBLE NOT NULL,
        seconds DOUBLE NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (dataset, clip_id, kind)
    """,
    "relevance_maps": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        clip_id VARCHAR NOT NULL,
        method VARCHAR NOT NULL,
        target_class VARCHAR NOT NULL,
        signed BOOLEAN NOT NULL,
        scale DOUBLE NOT NULL,
        height INTEGER NOT NULL,
        width INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (experiment_id, seed, clip_id, method)
    """,
    "relevance_by_stem": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        clip_id VARCHAR NOT NULL,
        method VARCHAR NOT NULL,
        stem VARCHAR NOT NULL,
        relevance_share DOUBLE NOT NULL,
        area_share DOUBLE NOT NULL,
        PRIMARY KEY (experiment_id, seed, clip_id, method, stem)
    """,
    "faithfulness": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        clip_id VARCHAR NOT NULL,
        method VARCHAR NOT NULL,
        metric VARCHAR NOT NULL,
        value DOUBLE NOT NULL,
        PRIMARY KEY (experiment_id, seed, clip_id, method, metric)
    """,
    "faithfulness_curves": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        method VARCHAR NOT NULL,
        removal VARCHAR NOT NULL,
        curve VARCHAR NOT NULL,
        fraction DOUBLE NOT NULL,
        probability DOUBLE NOT NULL,
        probability_sd DOUBLE NOT NULL,
        clips INTEGER NOT NULL,
        PRIMARY KEY (experiment_id, seed, method, removal, curve, fraction)
    """,
    "stem_reliance": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        clip_id VARCHAR NOT NULL,
        stem VARCHAR NOT NULL,
        target_class VARCHAR NOT NULL,
        p_with DOUBLE NOT NULL,
        p_without DOUBLE NOT NULL,
        PRIMARY KEY (experiment_id, seed, clip_id, stem)
    """,
    "attribution_agreement": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        method VARCHAR NOT NULL,
        measure VARCHAR NOT NULL,
        reference_experiment_id VARCHAR NOT NULL,
        value DOUBLE,
        low DOUBLE,
        high DOUBLE,
        n INTEGER NOT NULL,
        PRIMARY KEY (experiment_id, seed, method, measure, reference_experiment_id)
    """,
    "sanity_checks": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        method VARCHAR NOT NULL,
        randomised VARCHAR NOT NULL,
        clip_id VARCHAR NOT NULL,
        spearman DOUBLE NOT NULL,
        PRIMARY KEY (experiment_id, seed, method, randomised, clip_id)
    """,
    "audio_originals": """
        dataset VARCHAR NOT NULL,
        clip_id VARCHAR NOT NULL,
        format VARCHAR NOT NULL,
        sample_rate INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (dataset, clip_id)
    """,
    "sonifications": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        clip_id VARCHAR NOT NULL,
        method VARCHAR NOT NULL,
        gain VARCHAR NOT NULL,
        variant VARCHAR NOT NULL,
        format VARCHAR NOT NULL,
        sample_rate INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (experiment_id, seed, clip_id, method, gain, variant)
    """,
    "ear_checks": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        clip_id VARCHAR NOT NULL,
        method VARCHAR NOT NULL,
        gain VARCHAR NOT NULL,
        target_class VARCHAR NOT NULL,
        p_original DOUBLE NOT NULL,
        p_sonified DOUBLE NOT NULL,
        p_complement DOUBLE NOT NULL,
        PRIMARY KEY (experiment_id, seed, clip_id, method, gain)
    """,
    "models": """
        experiment_id VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        format VARCHAR NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (experiment_id, seed)
    """,
    "reference_figures": """
        source VARCHAR NOT NULL,
        table_ref VARCHAR NOT NULL,
        route VARCHAR NOT NULL,
        input VARCHAR NOT NULL,
        head VARCHAR NOT NULL,
        feature_set VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        metric VARCHAR NOT NULL,
        mean DOUBLE,
        sd DOUBLE,
        seeds INTEGER,
        note VARCHAR NOT NULL
    """,
}


def create_statements() -> list[str]:
    """Return ``CREATE TABLE IF NOT EXISTS`` statements for every table, in dependency-free order.

    Returns
    -------
    list of str
        One statement per table of :data:`TABLES`.

    Examples
    --------
    >>> create_statements()[0]
    'CREATE TABLE IF NOT EXISTS schema_info (version INTEGER NOT NULL)'
    """
    return [f"CREATE TABLE IF NOT EXISTS {name} ({columns.strip()})" for name, columns in TABLES.items()]


def columns(table: str) -> tuple[str, ...]:
    """Return the column names of a table of :data:`TABLES`, in declared order.

    Parameters
    ----------
    table : str
        A table name, e.g. ``"runs"``.

    Returns
    -------
    tuple of str
        The declared columns (key clauses such as ``PRIMARY KEY (...)`` are not columns).

    Raises
    ------
    KeyError
        ``table`` is not a table of the schema.

    Examples
    --------
    >>> columns("work_units")
    ('unit', 'run_id', 'seconds', 'peak_rss_mb', 'finished_at')
    """
    lines = (line.strip() for line in TABLES[table].strip().splitlines())
    return tuple(line.split()[0] for line in lines if line and not line.startswith(("PRIMARY KEY", "UNIQUE", "CHECK")))
