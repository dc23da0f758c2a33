#!/usr/bin/python3
"""Dev tool: 5-fold cross-validation on train/ only (test/ is never scored) of the
probe's scikit-learn recipe: binary 1-3-grams (tags stripped, punctuation as tokens),
NB log-count ratios (alpha 1), unit-length rows, liblinear logistic regression.

  /usr/bin/python3 scripts/cv-sklearn.py vocab 300   # exact vocabulary, C = 300
  /usr/bin/python3 scripts/cv-sklearn.py 22 300      # hashed into 2^22 buckets

Reads ../shared/data/aclImdb_v1.tar.gz, or $MOVIESENTIMENTS_DATA.
"""
import os, sys, re, time, numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize
import importlib.util
spec = importlib.util.spec_from_file_location("b", os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench-sklearn.py")); b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b)
here = os.path.dirname(os.path.abspath(__file__))
data = os.environ.get("MOVIESENTIMENTS_DATA") or os.path.join(here, "..", "..", "shared", "data", "aclImdb_v1.tar.gz")
xtr, ytr, xte, yte = b.read_archive(data)
del xte, yte  # cross-validation on train/ only
ytr=np.array(ytr)
clean = lambda s: re.sub(r'<[^>]*>',' ',s).lower()
A=[clean(s) for s in xtr]
rng=np.random.RandomState(1); perm=rng.permutation(len(A))
mode=sys.argv[1]; C=float(sys.argv[2])
tp=r"(?u)\b\w+\b|[.,\"()!?;:]"
if mode=='vocab': vec=lambda: CountVectorizer(ngram_range=(1,3), binary=True, token_pattern=tp)
else: vec=lambda: HashingVectorizer(ngram_range=(1,3), binary=True, token_pattern=tp, n_features=2**int(mode), alternate_sign=False, norm=None)
correct=0
for f in range(5):
    va=perm[f::5]; tr=np.setdiff1d(perm, va)
    v=vec(); X=v.fit_transform([A[i] for i in tr]); y=ytr[tr]
    X.data[:]=1
    p = 1 + np.asarray(X[y==1].sum(0)).ravel(); q = 1 + np.asarray(X[y==0].sum(0)).ravel()
    D = sparse.diags(np.log((p/p.sum())/(q/q.sum())))
    Xv=v.transform([A[i] for i in va]); Xv.data[:]=1
    clf = LogisticRegression(solver='liblinear', dual=True, C=C, max_iter=1000).fit(normalize(X@D), y)
    c=(clf.predict(normalize(Xv@D))==ytr[va]).sum(); correct+=c
    print(mode, C, 'fold', f, c/len(va), flush=True)
print(mode, C, 'CV', correct/len(A), flush=True)
