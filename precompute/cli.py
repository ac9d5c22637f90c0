"""Command line: ``python -m precompute run|explain ...`` (see ``--help``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from precompute.profile import ProfileError, available_profiles


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m precompute", description="Offline precompute engine of the MER workbench.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="train, explain and store everything a profile asks for")
    run.add_argument("--profile", default="demo", help=f"profile name ({', '.join(available_profiles())}) or a .toml path")
    run.add_argument("--db", type=Path, help="results database (default: data/<profile>.duckdb)")
    run.add_argument("--data-root", type=Path, default=None, help="folder holding the datasets (default: data/)")
    run.add_argument("--fresh", action="store_true", help="ignore finished work and rebuild from scratch")
    run.add_argument("--device", default="auto", help="torch device: auto (GPU if present), cpu, cuda")
    run.add_argument("--no-progress", action="store_true", help="no progress bars (messages only)")
    run.add_argument("--jobs", type=int, default=0, help="processes for feature extraction (default: one per core, at most 8)")
    run.add_argument("--cache-dir", type=Path, default=None,
                     help="feature cache folder (default: [profile] cache_dir, else data/cache); any writable place")

    explain = commands.add_parser("explain", help="predict, attribute and sonify one audio file with the stored ViT")
    explain.add_argument("audio", type=Path, help="audio file (wav, flac, ogg, mp3, ...)")
    explain.add_argument("--db", type=Path, default=Path("data/demo.duckdb"), help="results database (default: data/demo.duckdb)")
    explain.add_argument("--out", type=Path, help="output folder (default: data/explain/<file name>)")
    explain.add_argument("--offset", type=float, default=0.0, help="start of the analysed excerpt, in seconds")
    new = commands.add_parser("new-profile", help="write a commented profile for your own labelled clips, sized to a time budget")
    new.add_argument("--dataset", default="folder", help="data layout: folder (audio + labels.csv, or happy/ and sad/ folders) "
                                                        "or kaggle_mec")
    new.add_argument("--root", type=Path, required=True, help="the folder of clips")
    new.add_argument("--labels-csv", default=None, help="label file inside --root (path,label[,group][,split]); "
                                                         "without it, class folders happy/ and sad/")
    new.add_argument("--backbone", default="cnn", choices=("cnn", "vit"),
                     help="perceptual model (default cnn: it learns from a few hundred clips)")
    new.add_argument("--budget-minutes", type=float, default=30.0, help="run time to size the profile for (default 30)")
    new.add_argument("--clip-seconds", type=float, default=10.0, help="excerpt length the clips are cut or padded to")
    new.add_argument("--name", default=None, help="profile name (default: the folder's name); results go to data/<name>.duckdb")
    new.add_argument("--out", type=Path, default=None, help="profile file to write (default: <name>.toml)")
    summary = commands.add_parser("summary", help="print the figures a results database holds")
    summary.add_argument("--db", type=Path, default=Path("data/demo.duckdb"), help="results database (default: data/demo.duckdb)")
    compact = commands.add_parser("compact", help="write a smaller read-only copy of a results database for hosting")
    compact.add_argument("--db", type=Path, default=Path("data/demo.duckdb"), help="results database (default: data/demo.duckdb)")
    compact.add_argument("--out", type=Path, required=True, help="the copy to write (e.g. hosted/demo.duckdb)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command (``run``, ``new-profile``, ``explain``, ``summary``, ``compact``); return the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "summary":
        return _summary(args)
    if args.command == "compact":
        return _compact(args)
    if args.command == "new-profile":
        return _new_profile(args)
    return _explain(args)


def _run(args: argparse.Namespace) -> int:
    from engine.datasets.soundtracks import DatasetError
    from precompute.database import DatabaseLockedError, SchemaMismatchError
    from precompute.pipeline import DATA_DIR, run

    try:
        run(
            args.profile,
            db=args.db,
            data_root=args.data_root or DATA_DIR,
            fresh=args.fresh,
            device=args.device,
            show_progress=not args.no_progress,
            jobs=args.jobs,
            cache_dir=args.cache_dir,
        )
    except (ProfileError, SchemaMismatchError, DatabaseLockedError, DatasetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: finished units are kept; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


def _new_profile(args: argparse.Namespace) -> int:
    from engine.datasets.soundtracks import DatasetError
    from precompute.new_profile import new_profile

    name = args.name or args.root.resolve().name
    try:
        lines = new_profile(kind=args.dataset, root=args.root, labels_csv=args.labels_csv, backbone=args.backbone,
                            budget_minutes=args.budget_minutes, name=name, out=args.out or Path(f"{name}.toml"),
                            clip_seconds=args.clip_seconds)
    except (ProfileError, DatasetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


def _explain(args: argparse.Namespace) -> int:
    from engine.audio.io import AudioLoadError
    from precompute.explain_file import ExplainError, explain_file
    from results.store import ResultsError

    out = args.out or Path("data/explain") / args.audio.stem
    try:
        result, stored = explain_file(args.audio, db=args.db, out=out, offset_s=args.offset)
    except (AudioLoadError, ExplainError, ResultsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    probability = float(result.probabilities.max())
    print(f"{args.audio}: {result.predicted} (p = {probability:.2f}) by {stored.experiment_id}; wrote {out}/")
    return 0


def _summary(args: argparse.Namespace) -> int:
    from precompute.summary import SummaryError, summarise
    from results.store import ResultsError

    try:
        print(summarise(args.db))
    except (SummaryError, ResultsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _compact(args: argparse.Namespace) -> int:
    from precompute.database import compact_copy
    from results.store import ResultsError

    try:
        size = compact_copy(args.db, args.out)
    except ResultsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.out}: {size / 1e6:.1f} MB (from {args.db.stat().st_size / 1e6:.1f} MB), read-only copy for hosting")
    return 0
