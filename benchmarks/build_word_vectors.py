"""Build proplens's static word-vector table (``src/proplens/data/word_vectors.npz``).

Each word is encoded on its own by the all-MiniLM-L6-v2 sentence encoder (the benchmark's
transformer peer, optional extra "bench"), and the vectors are reduced to ``--dimensions`` by
PCA and stored as float16 (see :mod:`proplens.word_vectors`). The words are the encoder's
WordPiece vocabulary entries that are whole alphabetic words, and the words (of the word block's
token pattern) used in at least two SemEval-2020 training articles. Only words are stored, never
corpus text. Run once; scoring and training read the file.

    PROPLENS_DATA=../shared/data python benchmarks/build_word_vectors.py

About a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
from bench import load_minilm
from sklearn.decomposition import PCA

from proplens import config
from proplens.features import WORD_TOKEN_PATTERN
from proplens.word_vectors import TABLE_FILE


def corpus_words(min_articles: int) -> set[str]:
    """Lower-cased words of the training articles in at least ``min_articles`` of them."""
    articles = sorted((config.data_dir() / "ptc-semeval2020" / "train-articles").glob("*.txt"))
    if not articles:
        raise SystemExit(f"no training articles under {config.data_dir()}")
    pattern = re.compile(WORD_TOKEN_PATTERN)
    seen = Counter()
    for path in articles:
        seen.update(set(pattern.findall(path.read_text(encoding="utf-8").lower())))
    return {w for w, n in seen.items() if n >= min_articles and w[0].isalpha()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dimensions", type=int, default=64)
    parser.add_argument("--min-articles", type=int, default=2)
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).resolve().parents[1] / "src" / "proplens"
        / "data" / TABLE_FILE,
    )  # fmt: skip
    args = parser.parse_args()
    encoder, missing = load_minilm()
    if encoder is None:
        raise SystemExit(f"the table is built with the MiniLM encoder: {missing}")
    vocabulary = {
        w for w in encoder.tokenizer.get_vocab() if w.isascii() and w.isalpha() and len(w) > 1
    }
    words = sorted(vocabulary | corpus_words(args.min_articles))
    started = time.perf_counter()
    vectors = encoder.encode(words, batch_size=512, normalize_embeddings=True)
    reduced = PCA(n_components=args.dimensions, random_state=0).fit(vectors)
    table = reduced.transform(vectors).astype(np.float16)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "wb") as out:
        np.savez_compressed(out, words=np.array(words), vectors=table)
    print(
        f"{len(words):,} words, {args.dimensions} dimensions "
        f"({reduced.explained_variance_ratio_.sum():.0%} of the variance), "
        f"{args.output.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
