"""Privacy: PII never reaches the database or the logs; retention; export and purge."""

import logging
import time

from tutor.runtime import apply_retention
from tutor.safety.pii import iin_valid, redact_pii

PII = {
    "iin": "900101300126",
    "phone": "+7 701 234 56 78",
    "phone8": "8 (777) 123-45-67",
    "email": "aigerim.s@mail.kz",
    "card": "4111 1111 1111 1111",
}


def test_the_iin_in_these_tests_is_valid():
    assert iin_valid(PII["iin"])


def test_pii_is_in_neither_the_database_nor_the_logs(fake_tutor, fake_runtime, tmp_path):
    log_file = tmp_path / "ustaz.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        questions = [
            f"Менің ЖСН {PII['iin']}, фотосинтез дегеніміз не?",
            f"Мой телефон {PII['phone']}, что такое атом?",
            f"Call me at {PII['phone8']} or {PII['email']}: what is an algorithm?",
            f"карта {PII['card']} — кто выиграл чемпионат мира по футболу?",
            f"{PII['email']} мен өзімді өлтіргім келеді",
        ]
        for q in questions:
            fake_tutor.ask(q, session_id="s")
        fake_runtime.store.add_feedback("s", -1, redact_pii(f"мой номер {PII['phone']}"), [], "")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    fake_runtime.store.close()
    blobs = [p.read_bytes() for p in fake_runtime.settings.data_path.glob("ustaz.sqlite3*")]
    blobs.append(log_file.read_bytes())
    assert len(blobs) >= 2
    for name, value in PII.items():
        for blob in blobs:
            assert value.encode() not in blob, f"{name} found"
            assert value.replace(" ", "").encode() not in blob, f"{name} found"


def test_retention_removes_old_questions_and_zero_keeps_none(fake_tutor, fake_runtime):
    store = fake_runtime.store
    fake_tutor.ask("Что такое фотосинтез?", session_id="s")
    with store.transaction() as db:
        db.execute("UPDATE questions SET at = ?", (time.time() - 40 * 86400,))
    fake_tutor.ask("Что такое атом?", session_id="s")
    assert apply_retention(store, 30) == 1
    assert len(store.export_personal_data()["questions"]) == 1
    apply_retention(store, 0)
    assert store.export_personal_data()["questions"] == []
    fake_tutor.keep_questions = False  # what retention_days = 0 sets
    fake_tutor.ask("Что такое атом?", session_id="s")
    assert store.export_personal_data()["questions"] == []


def test_privacy_export_and_purge_commands(fake_runtime, capsys):
    import json

    from tutor.cli import main

    fake_runtime.store.log_question("s", "ru", "explain", "вопрос", True, 0.9)
    data_dir = str(fake_runtime.settings.data_path)
    assert main(["privacy", "export", "--data-dir", data_dir]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["questions"][0]["question"] == "вопрос"
    assert main(["privacy", "purge", "--older-than", "0", "--data-dir", data_dir]) == 0
    assert fake_runtime.store.export_personal_data()["questions"] == []
