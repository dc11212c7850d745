"""The evidence model refitted for another embedder (tutor models --calibrate)."""

from __future__ import annotations

import json
import logging

import pytest
from conftest import CORPUS

from tutor.evaluation import datasets
from tutor.evaluation.calibration import FALSE_ABSTENTION_BUDGET, calibrate
from tutor.evaluation.pools import Pool, bundled_docs
from tutor.retrieval.cache import CachedEmbedder
from tutor.retrieval.calibration import (
    PARAMS,
    Calibration,
    apply_calibration,
    calibration_file,
    read_calibration,
    write_calibration,
)
from tutor.retrieval.embedders import HashingEmbedder, default_prefixes


class OtherEmbedder(HashingEmbedder):
    """The test embedder without its own evidence weights: its cosines sit far below
    e5's (a median best cosine of 0.43 for an answerable question, against e5's 0.87),
    as another model's may."""

    name = "other-embedder"
    calibration = None


def _errors(retriever, items) -> tuple[float, float]:
    """(share of unanswerable questions answered, share of answerable ones refused)."""
    answered_unanswerable = refused_answerable = n_un = n_an = 0
    for item in items:
        if item["type"] not in ("answerable", "unanswerable"):
            continue
        evidence = retriever.search(item["question"], k=10).has_evidence
        if item["type"] == "answerable":
            n_an += 1
            refused_answerable += not evidence
        else:
            n_un += 1
            answered_unanswerable += evidence
    return answered_unanswerable / n_un, refused_answerable / n_an


@pytest.mark.integration  # a full fit over the bundled QA set
def test_calibration_fits_an_embedder_whose_cosines_sit_elsewhere():
    embedder = OtherEmbedder()
    items = datasets.bundled_items()
    pool = Pool(bundled_docs(CORPUS), embedder)
    try:
        before = _errors(pool.retriever, items)  # with e5-small's built-in weights
    finally:
        pool.close()
    cal = calibrate(embedder, CORPUS)
    assert set(cal.params) == set(PARAMS)
    assert cal.n == sum(i["type"] in ("answerable", "unanswerable") for i in items)
    # the fit holds false abstention to its budget, and still refuses most unanswerable questions
    # (with 100 topics bundled, near-topic ones are hard to tell: e5's own fit reaches 0.78)
    assert cal.loo_false_abstention <= FALSE_ABSTENTION_BUDGET and cal.loo_abstention >= 0.7, cal.summary()
    # the retriever given the fitted weights decides exactly as the fit reports
    embedder.calibration = cal.params
    pool = Pool(bundled_docs(CORPUS), embedder)
    try:
        after = _errors(pool.retriever, items)
    finally:
        pool.close()
    assert after == pytest.approx((1 - cal.abstention, cal.false_abstention))
    # e5-small's weights refuse most answerable questions here; the fitted ones do not
    assert before[1] > 0.5, before
    assert sum(after) < sum(before) - 0.3, (before, after)


def _calibration() -> Calibration:
    params = {k: float(i) for i, k in enumerate(PARAMS)}
    return Calibration(params, 0.1, 100, 0.9, 0.1, 0.88, 0.12)


def test_saved_calibration_is_found_by_embedder_name(tmp_path, caplog):
    embedder = CachedEmbedder(OtherEmbedder(), tmp_path / "cache.sqlite3")
    assert embedder.calibration is None
    with caplog.at_level(logging.WARNING):
        apply_calibration(embedder, tmp_path)
    assert embedder.calibration is None and "tutor models --calibrate" in caplog.text
    caplog.clear()
    path = write_calibration(tmp_path, "other-embedder", _calibration())
    assert path == calibration_file(tmp_path, "other-embedder") and path.parent.name == "calibration"
    apply_calibration(embedder, tmp_path)
    assert embedder.calibration == _calibration().params
    assert not caplog.text
    # another embedder (another path ending in the same folder name) does not share it
    assert calibration_file(tmp_path, "/srv/a/other-embedder") != calibration_file(tmp_path, "/srv/b/other-embedder")
    assert read_calibration(tmp_path, "/srv/a/other-embedder") is None


@pytest.mark.parametrize("damage", ["not json {", "[]", "bool", "missing", "nan", "other"])
def test_a_damaged_calibration_file_is_ignored_with_a_warning(tmp_path, caplog, damage):
    path = write_calibration(tmp_path, "other-embedder", _calibration())
    record = json.loads(path.read_text())
    if damage == "not json {" or damage == "[]":
        path.write_text(damage)
    else:
        if damage == "bool":
            record["params"]["conf_dense"] = True
        elif damage == "missing":
            del record["params"]["conf_unknown"]
        elif damage == "nan":
            record["params"]["conf_bias"] = float("nan")
        else:
            record["embedder"] = "someone-else"
        path.write_text(json.dumps(record))
    with caplog.at_level(logging.WARNING):
        assert read_calibration(tmp_path, "other-embedder") is None
    assert "ignoring the evidence calibration" in caplog.text


def test_e5_models_get_their_prefixes_when_their_folder_declares_none():
    e5 = ("query: ", "passage: ")
    assert default_prefixes("intfloat/multilingual-e5-large", {}) == e5
    assert default_prefixes("/srv/models/multilingual-e5-base/", {}) == e5
    assert default_prefixes("intfloat/e5-small-v2", {}) == e5
    # declared prompts win; other models and e5's instruction-tuned variant get none
    assert default_prefixes("intfloat/multilingual-e5-large", {"query": "q: ", "document": "d: "}) == ("q: ", "d: ")
    assert default_prefixes("intfloat/multilingual-e5-large-instruct", {}) == ("", "")
    assert default_prefixes("BAAI/bge-m3", {}) == ("", "")


@pytest.mark.integration
def test_a_local_e5_folder_that_declares_no_prompts_still_gets_e5s_prefixes(tmp_path, caplog, real_embedder):
    """A school's own copy of an e5 model, as the hub ships it (no prompts declared): its
    questions must be embedded exactly as the built-in e5's are, and the log must say that
    its evidence model is not fitted yet."""
    from conftest import model_cache

    from tutor.config import Settings
    from tutor.runtime import load_embedder

    folder = tmp_path / "multilingual-e5-small"
    folder.mkdir()
    for item in (model_cache() / "e5-small").iterdir():
        if item.name != "config_sentence_transformers.json":
            (folder / item.name).symlink_to(item)
    (folder / "config_sentence_transformers.json").write_text('{"prompts": {}}')
    s = Settings.load(env={}, data_dir=str(tmp_path / "data"), model_cache=str(tmp_path / "models"),
                      embedder=str(folder))
    with caplog.at_level(logging.WARNING):
        embedder = load_embedder(s)
    assert (embedder.inner.query_prefix, embedder.inner.passage_prefix) == ("query: ", "passage: ")
    assert "tutor models --calibrate" in caplog.text and embedder.calibration is None
    question = ["Фотосинтез дегеніміз не?"]
    cosine = float(embedder.encode_queries(question)[0] @ real_embedder.encode_queries(question)[0])
    assert cosine > 0.999
