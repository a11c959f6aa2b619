"""How batch scoring scales: 1 process vs ``--workers 2`` vs a 2-worker Dask LocalCluster.

Usage (from the checkout, with the corpus at ``proplens.config.data_dir()``)::

    python benchmarks/scaling.py                     # 20,000 documents, all three modes
    python benchmarks/scaling.py --documents 2000    # quicker
    python benchmarks/scaling.py streaming-cv        # streaming vs TF-IDF model, grouped 5-fold CV

The 89 unlabeled SemEval-2020 test articles are replicated (ids ``<article>-<copy>``) into a JSONL
file in a temporary folder, which is deleted afterwards; nothing from the corpus is written to the
repository. Each mode runs ``proplens.batch.score_corpus`` in a fresh subprocess while this script
samples the resident memory (RSS) of that process and of every worker it starts, with psutil
(``pip install psutil``: it is in the ``bench`` extra). Rates count the whole run, worker start-up
and model shipping included. Efficiency is the rate divided by (workers x the 1-process rate)
measured in the same run. ``cpu_s`` is the CPU time of the whole process tree, ``driver_cpu_s``
that of the driver alone, and ``docs_per_cpu_s`` the documents per CPU-second: unlike the
wall-clock rate it does not depend on what else the machine is running. ``load_before`` and
``load`` (the 1-minute load average before and after each run) say how busy the machine was.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

_RUN = """
import json, sys, time
from pathlib import Path
from proplens.batch import score_corpus
source, output, workers, dask = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
began = time.perf_counter()
result = score_corpus(source, output, workers=workers, dask=dask or None, progress=False,
                      batch_size=int(sys.argv[5]), resume=False)
print(json.dumps({"seconds": time.perf_counter() - began, "scored": result.scored,
                  "failed": result.failed}))
"""


def replicate(documents: int, folder: Path) -> Path:
    """Write ``documents`` copies of the SemEval-2020 test articles as JSONL; return its path."""
    from proplens.corpus import read_semeval2020

    articles = read_semeval2020(split="test").documents
    names = sorted(articles)
    path = folder / "replicated.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for number in range(documents):
            name = names[number % len(names)]
            record = {"id": f"{name}-{number // len(names)}", "text": articles[name]}
            handle.write(json.dumps(record) + "\n")
    return path


class MemorySampler:
    """Peak RSS of a process and, separately, of each of its descendants, sampled every 0.1 s."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.peaks: dict[int, int] = {}
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            for process in processes:
                try:
                    rss = process.memory_info().rss
                    times = process.cpu_times()
                except psutil.Error:
                    continue
                self.cpu[process.pid] = times.user + times.system
                self.peaks[process.pid] = max(self.peaks.get(process.pid, 0), rss)
            self._stop.wait(0.1)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def driver_mb(self) -> float:
        return self.peaks.get(self.root.pid, 0) / 1e6

    def cpu_seconds(self) -> float:
        """CPU time of the whole process tree (last sample of each process)."""
        return sum(self.cpu.values())

    def driver_cpu_seconds(self) -> float:
        """CPU time of the driver alone (for Dask LocalCluster, the client and the scheduler)."""
        return self.cpu.get(self.root.pid, 0.0)

    def worker_mb(self) -> float:
        # Dask also starts a scheduler and nanny processes; the largest descendant is the worker.
        others = [rss for pid, rss in self.peaks.items() if pid != self.root.pid]
        return max(others, default=0) / 1e6


def run_mode(source: Path, folder: Path, name: str, workers: int, dask: str, batch: int) -> dict:
    output = folder / f"{name}.parquet"
    load_before = os.getloadavg()[0]
    process = subprocess.Popen(
        [sys.executable, "-c", _RUN, str(source), str(output), str(workers), dask, str(batch)],
        stdout=subprocess.PIPE,
        text=True,
    )
    with MemorySampler(process.pid) as sampler:
        stdout, _ = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{name}: the run failed (exit {process.returncode})")
    result = json.loads(stdout.strip().splitlines()[-1])
    result.update(
        mode=name,
        workers=workers,
        rate=result["scored"] / result["seconds"],
        cpu_s=sampler.cpu_seconds(),
        driver_cpu_s=sampler.driver_cpu_seconds(),
        docs_per_cpu_s=result["scored"] / max(sampler.cpu_seconds(), 1e-9),
        load_before=load_before,
        load=os.getloadavg()[0],
        driver_mb=sampler.driver_mb(),
        worker_mb=sampler.worker_mb() if workers > 1 or dask else sampler.driver_mb(),
    )
    return result


def scaling(documents: int, batch: int, modes: list[str]) -> None:
    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="proplens-scaling-") as temporary:
        folder = Path(temporary)
        source = replicate(documents, folder)
        print(f"{documents} documents (89 SemEval-2020 test articles replicated) in {source.name}")
        plan = {
            "1 process": (1, ""),
            "--workers 2": (2, ""),
            "Dask LocalCluster(2)": (2, "local"),
        }
        results = []
        for name in modes:
            workers, dask = plan[name]
            result = run_mode(source, folder, name.split()[0].strip("-"), workers, dask, batch)
            result["mode"] = name
            print(
                f"  {name}: {result['rate']:.1f} docs/s, load average "
                f"{result['load_before']:.1f} -> {result['load']:.1f}",
                flush=True,
            )
            results.append(result)
        frame = pd.DataFrame(results)
        base = frame.loc[frame["workers"] == 1, "rate"]
        if len(base):
            frame["speed-up"] = frame["rate"] / base.iloc[0]
            frame["efficiency"] = frame["speed-up"] / frame["workers"]
        columns = ["mode", "scored", "failed", "seconds", "rate", "speed-up", "efficiency"]
        columns += ["cpu_s", "driver_cpu_s", "docs_per_cpu_s", "driver_mb", "worker_mb"]
        columns += ["load_before", "load"]
        print(frame[[c for c in columns if c in frame]].to_string(index=False, float_format="%.2f"))


def streaming_cv(folds: int, n_features: int) -> None:
    """Grouped k-fold any-device F1 on SemEval-2020 train: streaming model vs TF-IDF + LR."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, precision_score, recall_score
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline

    from proplens.corpus import read_semeval2020
    from proplens.model import best_threshold
    from proplens.streaming import StreamingDeviceClassifier

    table = read_semeval2020().sentence_table()
    texts = table["text"].tolist()
    devices = sorted({d for labels in table["devices"] for d in labels})
    matrix = np.array([[d in labels for d in devices] for labels in table["devices"]], dtype=int)
    target = matrix.max(axis=1)
    groups = table["document_id"].to_numpy()
    print(f"{len(table)} sentences, {len(set(groups))} articles, {target.mean():.1%} with a device")

    def streaming_any(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        model = StreamingDeviceClassifier(devices, n_features=n_features, epochs=5)
        model.fit([texts[i] for i in train], matrix[train])
        return model.predict_propaganda_proba([texts[i] for i in test])

    def tfidf_any(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        model = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
            LogisticRegression(C=4.0, max_iter=2000),
        )
        model.fit([texts[i] for i in train], target[train])
        return model.predict_proba([texts[i] for i in test])[:, 1]

    outer = GroupKFold(n_splits=folds)
    for name, fit_predict in (
        ("streaming (hashing + SGD)", streaming_any),
        ("TF-IDF + LogisticRegression", tfidf_any),
    ):
        began = time.perf_counter()
        scores = []
        for train, test in outer.split(texts, target, groups):
            # Threshold from out-of-fold predictions inside the training fold only.
            inner = np.zeros(len(train))
            for inner_train, inner_test in GroupKFold(n_splits=3).split(
                train, target[train], groups[train]
            ):
                inner[inner_test] = fit_predict(train[inner_train], train[inner_test])
            threshold = best_threshold(target[train], inner)
            predicted = fit_predict(train, test) >= threshold
            scores.append(
                (
                    f1_score(target[test], predicted),
                    precision_score(target[test], predicted),
                    recall_score(target[test], predicted),
                )
            )
        f1, precision, recall = np.array(scores).T
        print(
            f"{name}: F1 {f1.mean():.3f} ± {f1.std():.3f}, precision {precision.mean():.3f}, "
            f"recall {recall.mean():.3f} ({time.perf_counter() - began:.0f} s)"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", nargs="?", default="scaling", choices=["scaling", "streaming-cv"])
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--modes",
        default="1 process,--workers 2,Dask LocalCluster(2)",
        help="comma-separated subset of the three modes",
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--n-features", type=int, default=2**20)
    args = parser.parse_args(argv)
    if args.what == "streaming-cv":
        streaming_cv(args.folds, args.n_features)
    else:
        scaling(args.documents, args.batch_size, [m.strip() for m in args.modes.split(",")])


if __name__ == "__main__":
    main()
