#!/usr/bin/env python3
"""Side-by-side: the Python peers (statsforecast) on the same traces, the same origins and
the same scores as `vigil backtest forecast` (../shared/EVAL.md §1).

    python3 -m venv /tmp/peers && /tmp/peers/bin/pip install statsforecast pandas
    /tmp/peers/bin/python benches/peers_forecast.py [--traces DIR] [--models naive,AutoETS,AutoARIMA]
        [--stride K]    # every K-th origin only, to be quick; 1 = all of them
Prints mean MASE per horizon over the traces, band coverage, and seconds per origin.
"""
import argparse, glob, math, os, time, warnings
import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")


def load(path):
    """The trace on its regular grid, as vigil reads it: duplicates averaged, the most
    common interval, rows snapped to it, gaps interpolated."""
    df = pd.read_csv(path, usecols=[0, 1], names=["ts", "v"], header=0)
    df["ts"] = pd.to_datetime(df["ts"])
    df = df.groupby("ts", as_index=False)["v"].mean().sort_values("ts")
    gaps = df["ts"].diff().dropna().dt.total_seconds()
    step = gaps.mode().min()
    t0 = df["ts"].iloc[0]
    idx = np.rint((df["ts"] - t0).dt.total_seconds() / step).astype(int)
    n = idx.iloc[-1] + 1
    y = np.full(n, np.nan)
    y[idx.values] = df["v"].values
    y = pd.Series(y).interpolate(limit_direction="both").values
    return y, step


def acf(y, k):
    m = y.mean()
    den = ((y - m) ** 2).sum()
    return 0.0 if den == 0 else ((y[k:] - m) * (y[:-k] - m)).sum() / den


def mase_scale(train, day):
    seasonal = False
    if day and len(train) >= 3 * day:
        s = sum(acf(train, k) ** 2 for k in range(1, day))
        seasonal = abs(acf(train, day)) > 1.645 * math.sqrt((1 + 2 * s) / len(train))
    lag = day if seasonal else 1
    return np.abs(train[lag:] - train[:-lag]).mean()


def forecast(model, y, h):
    if model == "naive":
        return np.repeat(y[-1], h), None, None
    from statsforecast.models import AutoARIMA, AutoETS
    m = {"AutoETS": AutoETS(), "AutoARIMA": AutoARIMA()}[model]
    # A trailing week keeps each fit in the peers' published time per origin.
    f = m.forecast(y=y[-2016:].astype(float), h=h, level=[80])
    return f["mean"], f["lo-80"], f["hi-80"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--traces", default=os.environ.get("VIGIL_TRACES", "../shared/data"))
    ap.add_argument("--models", default="naive,AutoETS,AutoARIMA")
    ap.add_argument("--stride", type=int, default=1)
    a = ap.parse_args()
    files = sorted(
        f for f in glob.glob(os.path.join(a.traces, "**", "*.csv"), recursive=True)
        if any(k in f for k in ("realAWSCloudwatch", "nasa_http", "bitbrains", "alibaba2018"))
    )
    for model in a.models.split(","):
        mases, covs, secs, count = [], [], 0.0, 0
        for f in files:
            y, step = load(f)
            hs = [1, 15, 60] if step == 60 else [1, 3, 12]
            day = int(86400 // step) if 86400 % step == 0 else None
            n = len(y)
            n_train = n - int(math.floor(n * 0.3))
            scale = mase_scale(y[:n_train], day)
            err = {h: [] for h in hs}
            hit = {h: [] for h in hs}
            for t in range(n_train - 1, n - max(hs), a.stride):
                t0 = time.perf_counter()
                p, lo, hi = forecast(model, y[: t + 1], max(hs))
                secs += time.perf_counter() - t0
                count += 1
                for h in hs:
                    err[h].append(abs(y[t + h] - p[h - 1]))
                    if lo is not None:
                        hit[h].append(lo[h - 1] <= y[t + h] <= hi[h - 1])
            mases.append([np.mean(err[h]) / scale for h in hs])
            if hit[hs[0]]:
                covs.append(np.mean([np.mean(hit[h]) for h in hs]))
        m = np.mean(mases, axis=0)
        cov = f"{np.mean(covs) * 100:.1f}%" if covs else "-"
        print(f"{model:10} MASE {m[0]:.3f} {m[1]:.3f} {m[2]:.3f}  coverage {cov}  "
              f"{secs / max(count, 1) * 1000:.2f} ms/origin  ({len(files)} traces, stride {a.stride})")


if __name__ == "__main__":
    main()
