#!/usr/bin/env python3
"""Judges `vigil backtest detect` beside the peers on NAB's labelled traces
(../shared/EVAL.md §3): window precision, recall and F1 per category, and the NAB
standard score computed by NAB's own scorer (its `nab.sweeper`, imported from a NAB
checkout; nothing of it is copied here).

    python3 -m venv /tmp/peers-detect && /tmp/peers-detect/bin/pip install scikit-learn pandas
    /tmp/peers-detect/bin/python benches/peers_detect.py --nab-data DIR --nab-code NAB_CHECKOUT \
        --vigil FLAGS_DIR [--cache DIR]

FLAGS_DIR holds vigil's flags as CATEGORY/FILE.csv (benches/detect_nab.sh writes them).
The peers, configured as ../shared/data/README.md describes them, see only the past:
  - rolling 3-sigma: |x - mean| > 3 σ of the previous 288 points; score |z| / (|z| + 3);
  - scikit-learn IsolationForest: 1 % contamination, 12-value windows, refit every 288
    points on every window before; flag when predicted an outlier; score the forest's
    anomaly score (-score_samples).
A window is found when a flag lies inside it; consecutive flags outside every window are
one false alarm. Flags in NAB's probationary period (the first 15 %, at most 750 rows)
are not counted, for every detector alike (`--count-probation` counts them).
"""
import argparse, glob, json, math, os, sys, time
import numpy as np
import pandas as pd


def load(path):
    df = pd.read_csv(path, usecols=[0, 1], header=0, names=["timestamp", "value"])
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    return df


def three_sigma(y, w=288):
    s = pd.Series(y)
    m = s.shift(1).rolling(w, min_periods=w).mean().values
    sd = s.shift(1).rolling(w, min_periods=w).std().values
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(y - m) / sd
    z = np.where(np.isfinite(z), z, np.where((np.abs(y - m) > 0) & (sd == 0), 1e9, 0.0))
    z = np.nan_to_num(z)
    return z / (z + 3.0), (z > 3.0).astype(int)


def isolation_forest(y, win=12, refit=288, seed=0):
    from sklearn.ensemble import IsolationForest
    n = len(y)
    score = np.zeros(n)
    flag = np.zeros(n, dtype=int)
    X = np.lib.stride_tricks.sliding_window_view(y, win)  # X[k] ends at row k+win-1
    model = None
    for start in range(refit, n, refit):
        # Fit on every window that ends before `start`; score the next `refit` rows.
        train = X[: start - win + 1]
        if len(train) < 2 * win:
            continue
        model = IsolationForest(contamination=0.01, random_state=seed).fit(train)
        rows = np.arange(start, min(start + refit, n))
        Xs = X[rows - win + 1]
        score[rows] = -model.score_samples(Xs)
        flag[rows] = (model.predict(Xs) == -1).astype(int)
    return score, flag


def probation(n):
    return int(min(math.floor(0.15 * n), 0.15 * 5000))


def window_counts(ts, flag, windows, skip):
    """(found windows, missed windows, false alarm runs)."""
    inside = np.zeros(len(ts), dtype=bool)
    found = 0
    for a, b in windows:
        m = (ts >= a) & (ts <= b)
        inside |= m
        found += int((flag[m] == 1).any())
    false = (flag == 1) & ~inside
    false[:skip] = False
    runs = int(false[0]) + int(((~false[:-1]) & false[1:]).sum()) if len(false) else 0
    return found, len(windows) - found, runs


def nab_score(sweeper_cls, files, profile):
    """NAB's normalised score over `files` [(name, ts, score, windows)], the threshold
    chosen by NAB's own sweep over all of them together, as its optimizer does."""
    sw = sweeper_cls(probationPercent=0.15, costMatrix=profile)
    rows = []
    nwin = 0
    for name, ts, score, windows in files:
        nwin += len(windows)
        rows.extend(sw.calcSweepScore(list(ts), list(np.clip(score, 0.0, 1.0)),
                                      [tuple(w) for w in windows], name))
    if nwin == 0:
        return None, None
    best = max(sw.calcScoreByThreshold(rows), key=lambda s: s.score)
    null = -profile["fnWeight"] * nwin
    perfect = profile["tpWeight"] * nwin
    return 100.0 * (best.score - null) / (perfect - null), best.threshold


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nab-data", required=True, help="folder with labels.json and the category folders")
    ap.add_argument("--nab-code", required=True, help="a NAB checkout (its nab/sweeper.py is the scorer)")
    ap.add_argument("--vigil", required=True, help="vigil's flags, CATEGORY/FILE.csv")
    ap.add_argument("--cache", help="keep the peers' scores here between runs")
    ap.add_argument("--count-probation", action="store_true")
    ap.add_argument("--peers", default="3sigma,iforest")
    args = ap.parse_args()
    sys.path.insert(0, args.nab_code)
    from nab.sweeper import Sweeper
    profile = json.load(open(os.path.join(args.nab_code, "config", "profiles.json")))["standard"]["CostMatrix"]
    labels = json.load(open(os.path.join(args.nab_data, "labels.json")))
    detectors = ["vigil"] + [p for p in args.peers.split(",") if p]
    per_cat = {}
    for rel in sorted(labels):
        cat = rel.split("/")[0]
        path = os.path.join(args.nab_data, rel)
        if not os.path.exists(path):
            continue
        df = load(path)
        ts = df["timestamp"].values
        y = df["value"].values.astype(float)
        windows = [(pd.Timestamp(a).to_datetime64(), pd.Timestamp(b).to_datetime64()) for a, b in labels[rel]]
        skip = 0 if args.count_probation else probation(len(y))
        for det in detectors:
            if det == "vigil":
                f = pd.read_csv(os.path.join(args.vigil, rel))
                if len(f) != len(df):
                    sys.exit(f"{rel}: vigil wrote {len(f)} rows for {len(df)} trace rows")
                score, flag = f["score"].values, f["flag"].values.astype(int)
            else:
                cache = args.cache and os.path.join(args.cache, det, rel.replace("/", "__") + ".npz")
                if cache and os.path.exists(cache):
                    z = np.load(cache)
                    score, flag = z["score"], z["flag"]
                else:
                    score, flag = three_sigma(y) if det == "3sigma" else isolation_forest(y)
                    if cache:
                        os.makedirs(os.path.dirname(cache), exist_ok=True)
                        np.savez(cache, score=score, flag=flag)
            counts = window_counts(ts, flag, windows, skip)
            nab_ts = [pd.Timestamp(t) for t in ts]
            nab_w = [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in windows]
            per_cat.setdefault(cat, {}).setdefault(det, []).append((rel, counts, (rel, nab_ts, score, nab_w)))
    print(f"{'category':24} {'detector':9} {'windows':>7} {'found':>5} {'false':>5} {'prec':>6} {'recall':>6} {'F1':>6} {'NAB':>6}")
    results = {}
    for cat, dets in per_cat.items():
        for det, files in dets.items():
            tp = sum(c[0] for _, c, _ in files)
            fn = sum(c[1] for _, c, _ in files)
            fp = sum(c[2] for _, c, _ in files)
            p = tp / (tp + fp) if tp + fp else 0.0
            r = tp / (tp + fn) if tp + fn else float("nan")
            f1 = 2 * p * r / (p + r) if p + r and not math.isnan(r) else float("nan")
            nab, thr = nab_score(Sweeper, [x for _, _, x in files], profile)
            results.setdefault(cat, {})[det] = dict(windows=tp + fn, found=tp, false=fp, precision=p,
                                                     recall=r, f1=f1, nab=nab, threshold=thr)
            nab_s = f"{nab:6.1f}" if nab is not None else "     -"
            print(f"{cat:24} {det:9} {tp+fn:7} {tp:5} {fp:5} {p:6.3f} {r:6.3f} {f1:6.3f} {nab_s}")
    # Every file together, one threshold for all, as NAB's scoreboard is computed.
    for det in detectors:
        files = [f for dets in per_cat.values() for f in dets.get(det, [])]
        tp = sum(c[0] for _, c, _ in files)
        fn = sum(c[1] for _, c, _ in files)
        fp = sum(c[2] for _, c, _ in files)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else float("nan")
        f1 = 2 * p * r / (p + r) if p + r else float("nan")
        nab, _ = nab_score(Sweeper, [x for _, _, x in files], profile)
        print(f"{'all ' + str(len(files)) + ' files':24} {det:9} {tp+fn:7} {tp:5} {fp:5} {p:6.3f} {r:6.3f} {f1:6.3f} {nab:6.1f}")
    if os.environ.get("DETECT_JSON"):
        json.dump(results, open(os.environ["DETECT_JSON"], "w"), indent=1, default=float)


if __name__ == "__main__":
    main()
