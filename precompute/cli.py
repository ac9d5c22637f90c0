"""Command line: ``python -m precompute run|explain|report ...`` (see ``--help``)."""

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
    run.add_argument("--jobs", type=int, default=0, help="processes for feature extraction (default: one per core, at most 8; "
                                                          "with --ray: feature tasks in flight, default twice the cluster's CPUs)")
    run.add_argument("--cache-dir", type=Path, default=None,
                     help="feature cache folder (default: [profile] cache_dir, else data/cache); any writable place")
    run.add_argument("--ray", metavar="ADDRESS", default=None,
                     help="run on a Ray cluster: auto (the cluster `ray start` started here), local (start one on this "
                          "machine) or HOST:PORT of the head; data and --cache-dir must be at the same path on every node")
    run.add_argument("--ray-parquet-rows", type=int, default=None, metavar="N",
                     help="with --ray: tables of at least N rows come back as Parquet files in the shared cache folder "
                          "instead of through Ray's object store (default 1000000)")

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
    report = commands.add_parser("report", help="write a run's one-file HTML report (and a PDF of it)")
    report.add_argument("--db", type=Path, default=Path("data/demo.duckdb"), help="results database (default: data/demo.duckdb)")
    report.add_argument("--out", type=Path, default=Path("report.html"), help="HTML file to write (default: report.html)")
    report.add_argument("--pdf", type=Path, default=None, help="also print it to this PDF (system Chromium), a page per section")
    report.add_argument("--base-url", default=None, help="the dashboard's address (e.g. http://host:8501): sections link to their views")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command (``run``, ``new-profile``, ``explain``, ``summary``, ``compact``, ``report``); return the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "summary":
        return _summary(args)
    if args.command == "compact":
        return _compact(args)
    if args.command == "new-profile":
        return _new_profile(args)
    if args.command == "report":
        return _report(args)
    return _explain(args)


def _run(args: argparse.Namespace) -> int:
    from engine.datasets.soundtracks import DatasetError
    from precompute.cluster import ClusterError
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
            ray=args.ray,
            ray_parquet_rows=args.ray_parquet_rows,
        )
    except (ProfileError, SchemaMismatchError, DatabaseLockedError, DatasetError, ClusterError) as error:
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


def _report(args: argparse.Namespace) -> int:
    from precompute.report import ReportError, write_report
    from results.store import ResultsError

    try:
        written = write_report(args.db, args.out, pdf=args.pdf, base_url=args.base_url)
    except (ResultsError, ReportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{written.html}: {written.html.stat().st_size / 1e6:.1f} MB, {written.sections} sections, {written.figures} figures "
          f"in {written.html_seconds:.1f} s")
    if written.pdf is not None:
        print(f"{written.pdf}: {written.pages} pages in {written.pdf_seconds:.1f} s")
    return 0
