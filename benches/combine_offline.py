#!/usr/bin/env python3
"""Offline study of how vigil combines its models, on the per-model predictions that
`vigil backtest forecast --models-out` writes (benches/peers_forecast.py --vigil --save DIR
keeps one per trace). Replays candidate rules — who leads, how the band and the planning
bound are set — with the same causality as the forecaster (an error is known only once
its horizon has passed) and scores them as EVAL.md §1 does. A study tool: the rule that
ships is the one in src/forecast/forecaster.rs, measured by the real backtest.

    /tmp/peers/bin/python benches/combine_offline.py DIR [--traces ../shared/data]
"""
import argparse, glob, math, os, sys
import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers_forecast import load, mase_scale  # noqa: E402

MODELS = ["naive", "seasonal-daily", "seasonal-weekly", "linear", "gbm", "linear+gbm"]


def known(series, h, window, fn, min_periods=20):
    """fn over the last `window` values of `series` that are known at each origin:
    the value of origin o is known from origin o + h on."""
    r = getattr(pd.Series(series).rolling(window, min_periods=min_periods), fn)()
    return r.shift(h).values


def known_q(series, h, window, q, min_periods=10):
    r = pd.Series(series).rolling(window, min_periods=min_periods).quantile(q, interpolation="linear")
    return r.shift(h).values


def rules(P, A, h):
    """Point forecasts per rule. P: origins × models (NaN where a model had none)."""
    E = np.abs(A[:, None] - P)
    mae = np.column_stack([known(E[:, m], h, 288, "mean") for m in range(P.shape[1])])
    avail = ~np.isnan(P) & ~np.isnan(mae)
    out = {}
    # Current rule: the lowest recent MAE leads.
    m = np.where(avail, mae, np.inf)
    best = np.argmin(m, axis=1)
    fallback = np.where(np.isnan(P[:, 0]), A * np.nan, P[:, 0])
    pick = P[np.arange(len(P)), best]
    pick = np.where(np.isfinite(m.min(axis=1)), pick, fallback)
    out["select"] = pick
    for p in (1, 2, 4):
        w = np.where(avail, 1.0 / np.maximum(mae, 1e-12) ** p, 0.0)
        c = np.nansum(np.where(avail, P, 0.0) * w, axis=1) / np.maximum(w.sum(axis=1), 1e-300)
        out[f"inv{p}"] = np.where(w.sum(axis=1) > 0, c, pick)
    # The top k by recent MAE, equally weighted.
    order = np.argsort(m, axis=1)
    for k in (2, 3):
        idx = order[:, :k]
        vals = np.take_along_axis(P, idx, axis=1)
        ok = np.take_along_axis(np.isfinite(m), idx, axis=1)
        c = np.nanmean(np.where(ok, vals, np.nan), axis=1)
        out[f"top{k}"] = np.where(np.isfinite(c), c, pick)
    # Softmax on recent MAE relative to the best: weight exp(-(mae/min - 1)/tau).
    mn = np.nanmin(np.where(avail, mae, np.nan), axis=1, keepdims=True)
    for tau in (0.05, 0.1, 0.2):
        z = np.where(avail, -(mae / np.maximum(mn, 1e-12) - 1.0) / tau, -np.inf)
        w = np.exp(z)
        c = np.nansum(np.where(avail, P, 0.0) * w, axis=1) / np.maximum(w.sum(axis=1), 1e-300)
        out[f"soft{tau}"] = np.where(w.sum(axis=1) > 0, c, pick)
    # Stacking over a grid: every single model and every pair's convex combination at
    # weights 1/4, 1/2, 3/4, the one with the lowest recent MAE leads.
    nm = P.shape[1]
    for win in (288, 576):
        cands = [P[:, j] for j in range(nm)]
        for i in range(nm):
            for j in range(i + 1, nm):
                for w in (0.25, 0.5, 0.75):
                    cands.append(w * P[:, i] + (1 - w) * P[:, j])
        C = np.column_stack(cands)
        mc = np.column_stack([known(np.abs(A - C[:, j]), h, win, "mean") for j in range(C.shape[1])])
        mc = np.where(~np.isnan(C) & ~np.isnan(mc), mc, np.inf)
        b = np.argmin(mc, axis=1)
        v = C[np.arange(len(C)), b]
        out[f"pairs{win}"] = np.where(np.isfinite(mc.min(axis=1)), v, pick)
    # The same grid scored by an exponentially weighted mean absolute error (constant
    # memory per candidate, as the forecaster keeps it).
    for span in (288, 576):
        alpha = 1.0 / span
        E2 = np.abs(A[:, None] - C)
        ew = pd.DataFrame(E2).ewm(alpha=alpha, adjust=True, ignore_na=True, min_periods=20).mean().shift(h).values
        ew = np.where(~np.isnan(C) & ~np.isnan(ew), ew, np.inf)
        b = np.argmin(ew, axis=1)
        v = C[np.arange(len(C)), b]
        out[f"pairsEW{span}"] = np.where(np.isfinite(ew.min(axis=1)), v, pick)
    # Longer and shorter selection windows.
    for win in (96, 576, 1152):
        mw = np.column_stack([known(E[:, j], h, win, "mean") for j in range(P.shape[1])])
        mw = np.where(~np.isnan(P) & ~np.isnan(mw), mw, np.inf)
        b = np.argmin(mw, axis=1)
        v = P[np.arange(len(P)), b]
        out[f"select{win}"] = np.where(np.isfinite(mw.min(axis=1)), v, pick)
    return out


def band(point, A, h, lo_q=0.1, hi_q=0.9, window=500):
    e = A - point
    return point + known_q(e, h, window, lo_q), point + known_q(e, h, window, hi_q)


def aci_band(point, A, h, step=0.005, window=500, want=(0.1, 0.9)):
    """The band as the forecaster sets it: quantiles of the last `window` errors of the
    point given, each edge's quantile moved by `step` per crossing (adaptive conformal)."""
    import bisect
    from collections import deque
    n = len(point)
    lo = np.full(n, np.nan)
    hi = np.full(n, np.nan)
    errs, srt = deque(), []
    ql, qh = want
    for t in range(n):
        o = t - h  # its actual arrives now
        if o >= 0 and np.isfinite(point[o]):
            e = A[o] - point[o]
            if len(errs) == window:
                old = errs.popleft()
                del srt[bisect.bisect_left(srt, old)]
            errs.append(e)
            bisect.insort(srt, e)
            if np.isfinite(lo[o]):
                below, above = float(A[o] < lo[o]), float(A[o] > hi[o])
                ql = min(max(ql - step * (below - want[0]), 0.0), 0.5)
                qh = min(max(qh + step * (above - (1 - want[1])), 0.5), 1.0)
        if len(srt) >= 10 and np.isfinite(point[t]):
            def q(x):
                pos = x * (len(srt) - 1)
                i = int(pos)
                f = pos - i
                return srt[i] * (1 - f) + srt[i + 1] * f if i + 1 < len(srt) else srt[i]
            lo[t] = min(point[t] + q(ql), point[t])
            hi[t] = max(point[t] + q(qh), point[t])
    return lo, hi


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--traces", default=os.environ.get("VIGIL_TRACES", "../shared/data"))
    a = ap.parse_args()
    paths = {os.path.basename(f)[:-4]: f for f in glob.glob(os.path.join(a.traces, "**", "*.csv"), recursive=True)}
    res = {}
    cover = {}
    for mf in sorted(glob.glob(os.path.join(a.dir, "*.models.csv"))):
        name = os.path.basename(mf)[: -len(".models.csv")]
        y, step, _ = load(paths[name])
        n = len(y)
        n_train = n - int(math.floor(n * 0.3))
        day = int(86400 // step) if 86400 % step == 0 else None
        scale = mase_scale(y[:n_train], day)
        d = pd.read_csv(mf)
        hs = sorted(d["horizon"].unique())
        for k, h in enumerate(hs):
            q = d[d["horizon"] == h].sort_values("origin")
            origins = q["origin"].values
            A = q["actual"].values
            P = q[[c for c in MODELS if c in q.columns]].values.astype(float)
            test = (origins >= n_train - 1) & (origins < n - max(hs))
            cands = rules(P, A, h)
            cands["vigil"] = q["point"].values
            cands["select+aci"] = cands["select"]
            for r, pt in cands.items():
                mase = np.mean(np.abs(A[test] - pt[test])) / scale
                res.setdefault(r, {}).setdefault(name, [None] * len(hs))[k] = mase
                if r == "vigil":
                    lo, hi = q["lo"].values, q["hi"].values
                elif r == "select+aci":
                    lo, hi = aci_band(pt, A, h)
                else:
                    lo, hi = band(pt, A, h)
                inside = (lo[test] <= A[test]) & (A[test] <= hi[test])
                cover.setdefault(r, {}).setdefault(name, [None] * len(hs))[k] = inside.mean()
            for j, mname in enumerate(c for c in MODELS if c in q.columns):
                pt = P[:, j]
                ok = test & np.isfinite(pt)
                mase = np.mean(np.abs(A[ok] - pt[ok])) / scale if ok.any() else np.nan
                res.setdefault("only:" + mname, {}).setdefault(name, [None] * len(hs))[k] = mase
    names = sorted(res["vigil"])
    print(f"{len(names)} traces")
    for r in res:
        m = np.nanmean([res[r][n] for n in names], axis=0)
        c = np.nanmean([cover[r][n] for n in names], axis=0) if r in cover else None
        cs = " cov " + "/".join(f"{x * 100:.1f}" for x in c) if c is not None else ""
        print(f"{r:22} MASE " + " ".join(f"{x:.3f}" for x in m) + cs)
    if len(sys.argv) > 0:
        print("\nper trace: MASE vigil, then coverage vigil, select (conformal), select+aci")
        for n in names:
            print(f"{n[:40]:40} " + "/".join(f"{v:.3f}" for v in res["vigil"][n]) + "  "
                  + "  ".join("/".join(f"{v * 100:.1f}" for v in cover[r][n])
                              for r in ("vigil", "select", "select+aci")))


if __name__ == "__main__":
    main()
