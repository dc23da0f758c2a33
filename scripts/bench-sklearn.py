#!/usr/bin/python3
"""scikit-learn reference pipelines for `npm run bench` (scripts/bench.js).

Reads the same aclImdb_v1.tar.gz with Python's tarfile, trains on train/ and scores
test/, and prints one JSON object per line on stdout:

  {"system": "sklearn-nb", "train_s": ..., "accuracy": ..., "predict_per_s": ..., ...}

Timings: train_s runs from opening the archive to a fitted model (reading, vectorizing,
NB ratios, fitting); predict_per_s is reviews/s for raw test text -> labels with the
fitted vectorizer and model (vectorize + scale + decision), reading no files.
peak RSS is measured by the caller around this process; to keep one pipeline's memory
from hiding another's, run each pipeline in its own process (--only NAME).
"""

import argparse
import json
import os
import pickle
import resource
import sys
import tarfile
import time


def read_archive(path, limit=None):
    """(train_texts, train_labels, test_texts, test_labels) from aclImdb_v1.tar.gz."""
    data = {"train": ([], []), "test": ([], [])}
    taken = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            parts = member.name.split("/")
            # aclImdb/{train,test}/{pos,neg}/ID_RATING.txt
            if len(parts) != 4 or parts[1] not in data or parts[2] not in ("pos", "neg") or not parts[3].endswith(".txt"):
                continue
            texts, labels = data[parts[1]]
            if limit is not None:
                # a smoke run: at most limit/2 reviews of each class in each split
                key = (parts[1], parts[2])
                if taken.get(key, 0) >= (limit + 1) // 2:
                    continue
                taken[key] = taken.get(key, 0) + 1
            texts.append(tar.extractfile(member).read().decode("utf-8"))
            labels.append(1 if parts[2] == "pos" else 0)
    return data["train"][0], data["train"][1], data["test"][0], data["test"][1]


def run_nb(path, limit, c):
    import numpy as np
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    xtr_text, ytr, xte_text, yte = read_archive(path, limit)
    t_read = time.perf_counter() - t0
    ytr = np.asarray(ytr)
    vec = CountVectorizer(ngram_range=(1, 3), binary=True)
    xtr = vec.fit_transform(xtr_text)
    alpha = 1.0
    p = alpha + np.asarray(xtr[ytr == 1].sum(axis=0)).ravel()
    q = alpha + np.asarray(xtr[ytr == 0].sum(axis=0)).ravel()
    r = np.log((p / p.sum()) / (q / q.sum()))
    scale = sparse.diags(r)
    clf = LogisticRegression(solver="liblinear", dual=True, C=c, max_iter=1000)
    clf.fit(xtr @ scale, ytr)
    train_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    pred = clf.predict(vec.transform(xte_text) @ scale)
    predict_s = time.perf_counter() - t1
    out = result("sklearn-nb", train_s, t_read, pred, yte, predict_s, len(xtr_text), xtr, model_size(vec, r, clf))
    out["C"] = c
    return out


def run_tfidf(path, limit):
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    xtr_text, ytr, xte_text, yte = read_archive(path, limit)
    t_read = time.perf_counter() - t0
    vec = TfidfVectorizer()
    xtr = vec.fit_transform(xtr_text)
    clf = LogisticRegression()
    clf.fit(xtr, np.asarray(ytr))
    train_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    pred = clf.predict(vec.transform(xte_text))
    predict_s = time.perf_counter() - t1
    return result("sklearn-tfidf", train_s, t_read, pred, yte, predict_s, len(xtr_text), xtr, model_size(vec, None, clf))


def result(system, train_s, read_s, pred, yte, predict_s, n_train, xtr, model_bytes):
    """One pipeline's line of figures: timings, test accuracy of pred, sizes."""
    import numpy as np

    return {
        "system": system,
        "train_s": train_s,
        "read_s": read_s,
        "accuracy": float((pred == np.asarray(yte)).mean()),
        "predict_s": predict_s,
        "predict_per_s": len(yte) / predict_s,
        "n_train": n_train,
        "n_test": len(yte),
        "n_features": int(xtr.shape[1]),
        "model_bytes": model_bytes,
    }


def model_size(vec, r, clf):
    """Bytes of the pickled fitted pipeline (vectorizer with its vocabulary, ratios, model)."""
    vec.stop_words_ = None  # a fitted vectorizer keeps the dropped terms; not needed to predict
    return len(pickle.dumps((vec, r, clf), protocol=pickle.HIGHEST_PROTOCOL))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--only", choices=["nb", "tfidf"], help="run one pipeline")
    ap.add_argument("--limit", type=int, help="at most this many reviews per split (smoke runs)")
    ap.add_argument("--C", type=float, default=1.0, help="C of the NB pipeline (default 1)")
    ap.add_argument("--check", action="store_true", help="only say whether scikit-learn imports")
    a = ap.parse_args()
    if a.check:
        import sklearn

        print(json.dumps({"sklearn": sklearn.__version__, "python": sys.version.split()[0]}))
        return
    if not a.data:
        ap.error("--data is required")
    for name in ["nb", "tfidf"] if a.only is None else [a.only]:
        res = run_nb(a.data, a.limit, a.C) if name == "nb" else run_tfidf(a.data, a.limit)
        res["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
