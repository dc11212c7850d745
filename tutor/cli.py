"""The ``tutor`` command. It only parses flags and calls library code."""

from __future__ import annotations

import argparse
import logging
import sys

from tutor.config import SettingError, Settings
from tutor.evaluation.datasets import DataError
from tutor.models import ModelError

log = logging.getLogger("tutor")


def _add_settings(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (each also a TUTOR_* environment variable)")
    for f in Settings.fields():
        if not f.metadata.get("flag"):
            continue
        kind = type(f.default)
        kwargs = {"dest": f.name, "default": None,
                  "help": f"{f.metadata['help']} [{Settings.env_name(f.name)}]"}
        if kind is bool:
            kwargs["type"] = lambda v: v.lower() in ("1", "true", "yes", "on")
            kwargs["metavar"] = "true|false"
        else:
            kwargs["type"] = kind
        if f.metadata.get("choices"):
            kwargs["choices"] = f.metadata["choices"]
        group.add_argument("--" + f.name.replace("_", "-"), **kwargs)


def _add_directory(sub) -> None:
    """``tutor school``, ``tutor class`` and ``tutor teacher``: each action its own parser."""
    def group(name: str, help: str):
        return sub.add_parser(name, help=help, description=help).add_subparsers(dest="action", required=True)

    def action(actions, name: str, help: str) -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=help, description=help)
        _add_settings(p)
        return p

    schools = group("school", "Schools of this installation.")
    action(schools, "add", "Add a school (it gets a default class).").add_argument("name")
    action(schools, "list", "List the schools.").add_argument("--json", action="store_true")
    classes = group("class", "Classes and the codes students enter.")
    p = action(classes, "add", "Add a class to a school; prints its code and link.")
    p.add_argument("--school", required=True, help="school name")
    p.add_argument("--teacher", default="", help="username of the class's teacher")
    p.add_argument("--json", action="store_true")
    p.add_argument("name", help="class name, e.g. 7A")
    p = action(classes, "list", "List classes with their codes and links.")
    p.add_argument("--school", default="", help="only this school's")
    p.add_argument("--json", action="store_true")
    p = action(classes, "qr", "Write a QR code image of a class's link.")
    p.add_argument("code")
    p.add_argument("--out", required=True, help="PNG file")
    teachers = group("teacher", "Teacher accounts.")
    p = action(teachers, "add", "Add a teacher account (the password is asked for, or read from stdin).")
    p.add_argument("username")
    p.add_argument("--school", default="", help="school name (not for a region-admin)")
    p.add_argument("--role", default="teacher", choices=["teacher", "school-admin", "region-admin"])
    p.add_argument("--class", dest="klass", action="append", metavar="CODE",
                   help="a class this teacher teaches (repeatable)")
    p.add_argument("--password-stdin", action="store_true")
    p = action(teachers, "set-password", "Set the shared teacher password (only while no account exists).")
    p.add_argument("--password-stdin", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tutor", description="Ustaz: an offline AI study assistant for Kazakh and Russian schools.")
    sub = parser.add_subparsers(dest="command", required=True)

    def cmd(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        _add_settings(p)
        return p

    cmd("serve", "Start the classroom web app.")
    p = cmd("ingest", "Add files (md, txt, pdf, docx, pptx, html, photos and scans) to the corpus.")
    p.add_argument("paths", nargs="*", help="files or folders (none: finish the unfinished background jobs)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="large PDFs read at the same time (a school's textbook folder overnight)")
    p.add_argument("--subject", default="")
    p.add_argument("--grade", default="")
    p.add_argument("--lang", default="", choices=["", "kk", "ru", "en"])
    p.add_argument("--policy", default="", choices=["", "reference", "homework", "assessment"])
    p.add_argument("--scope", default="", metavar="region|school:NAME|class:CODE",
                   help="where the documents go: the region library, a school or a class "
                        "(default: the default school)")
    p = cmd("index", "Manage the search index.")
    p.add_argument("action", choices=["rebuild", "status"])
    p = cmd("ask", "Answer one question with citations.")
    p.add_argument("question")
    p.add_argument("--mode", default="explain", choices=["explain", "hints", "quiz", "coach"])
    p.add_argument("--lang", default="auto", choices=["auto", "kk", "ru", "en"])
    p.add_argument("--class", dest="class_code", default="", metavar="CODE",
                   help="ask as a student of this class: its, its school's and the region's materials "
                        "(default: the default school's default class)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p = cmd("eval", "Run the evaluation harness.")
    p.add_argument("--suite", action="append", default=None,
                   help="suite or task name (repeatable; default: all but the ocr suite, which OCRs lessons)")
    p.add_argument("--data", default=None, help="external data folder (default ../shared/evaldata)")
    p.add_argument("--out", default="eval/reports/latest", help="report folder")
    p.add_argument("--json", dest="json_out", default=None, help="also write report.json here")
    p.add_argument("--limit", type=int, default=None, help="items per task (quick runs)")
    p.add_argument("--seed", type=int, default=0, help="which items --limit draws (the same every run)")
    p.add_argument("--gate", action="store_true", help="fail when eval/thresholds.toml is broken")
    p.add_argument("--generative", type=int, default=0, metavar="N",
                   help="also answer the first N items of each answer task with the generative "
                        "composer and the configured generator, side by side (slow on a CPU)")
    p.add_argument("--ablate-reader", type=int, default=0, metavar="N",
                   help="also run the first N items of each retrieval and answer task with the "
                        "evidence reader (the reader_* settings), beside the same items without it")
    p.add_argument("--no-progress", action="store_true")
    p = cmd("bench", "Run a benchmark and print its table.")
    p.add_argument("what", choices=["retrieval", "load", "generation", "ingest", "e2e", "ocr"])
    p.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    p.add_argument("--max-chunks", type=int, default=None,
                   help="retrieval: largest corpus size measured (e.g. 100000 skips the 1M runs)")
    p.add_argument("--scopes", action="store_true",
                   help="retrieval: a region installation instead (50k region chunks, 200 classes x "
                        "500 chunks), each question asked from one class")
    p.add_argument("--replicas", type=int, default=0, metavar="N",
                   help="load: N app processes on one PostgreSQL database (TUTOR_DATABASE_URL, or a throwaway "
                        "server), compared with 1; also the delay before an upload is answered from elsewhere")
    p.add_argument("--pages", type=int, default=None,
                   help="ingest: pages of the text textbook, also the answers' background job (default 300)")
    p.add_argument("--library-pages", type=int, default=None,
                   help="ingest: pages of each of the folder's four text PDFs (default 50)")
    p.add_argument("--scanned-pages", type=int, default=None,
                   help="ingest: pages of each of the folder's two scanned PDFs, OCR'd (default 6, at least 2; "
                        "about 5 s a page a core); the answers' scanned job has twice as many")
    p.add_argument("--out", default="bench", help="folder for the Markdown and JSON results")
    p = cmd("models", "Show (and provision) the embedder and generator.")
    p.add_argument("--timings", action="store_true", help="time a cold and a warm load")
    p.add_argument("--verify", action="store_true", help="check every file's checksum")
    p.add_argument("--admit", action="store_true",
                   help="run the admission check of the generator (kk and ru QA sample)")
    p.add_argument("--calibrate", action="store_true",
                   help="fit the evidence model (when to say the materials do not answer) for the "
                        "configured embedder on the bundled QA set; needed once for any embedder "
                        "other than the built-in one")
    _add_directory(sub)
    p = cmd("privacy", "Export or purge stored student data.")
    p.add_argument("action", choices=["export", "purge"])
    p.add_argument("--older-than", type=int, default=0, help="days (purge)")
    p = cmd("db", "Move the store between databases.")
    p.add_argument("action", choices=["migrate"],
                   help="migrate: copy every table (ids kept) and compare row counts and checksums")
    p.add_argument("--from", dest="source", default="", metavar="URL",
                   help="sqlite:///path/ustaz.sqlite3 or postgresql://... (default: the data folder's "
                        "SQLite file)")
    p.add_argument("--to", dest="target", default="", metavar="URL",
                   help="postgresql://user:password@host/database or sqlite:///path "
                        "(default: TUTOR_DATABASE_URL)")
    p.add_argument("--force", action="store_true", help="replace the rows of a target that holds data")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides = {f.name: getattr(args, f.name, None) for f in Settings.fields()}
    try:
        settings = Settings.load(**overrides)
        logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s",
                            stream=sys.stderr)
        for noisy in ("httpx", "faiss.loader", "sentence_transformers", "transformers", "bm25s"):
            logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
        from tutor import commands  # after parsing: `tutor --help` needs none of the model stack

        return getattr(commands, "cmd_" + args.command)(settings, args)
    except SettingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - known errors get one line, others a trace

        if isinstance(exc, ModelError | DataError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
