#!/usr/bin/env python3
"""Side-by-side: the Python peers (statsforecast, LightGBM) on the same traces, the same
origins and the same scores as `vigil backtest forecast` (../shared/EVAL.md §1).

    python3 -m venv /tmp/peers && /tmp/peers/bin/pip install statsforecast lightgbm pandas
    /tmp/peers/bin/python benches/peers_forecast.py [--traces DIR]
        [--models naive,LightGBM,AutoETS,AutoARIMA]
        [--stride K]    # every K-th origin only, to be quick; 1 = all of them
        [--vigil]       # also run `vigil backtest forecast` (release build) on the same traces
        [--save DIR]    # keep each (model, trace) result in DIR/results.jsonl as it finishes,
                        # reuse what is there (a long run resumes), and keep vigil's
                        # predictions and every model's (--models-out) in DIR
        [--vigil-bin PATH]  # another vigil build (default target/release/vigil)
Prints mean MASE per horizon over the traces, band coverage, and seconds per origin, then
MASE per trace and horizon beside naive's.
LightGBM is configured as ../shared/data/README.md describes the peer to beat.
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
    # Exactly vigil's grid (src/sim/trace.rs `regularise`), so that both are scored on
    # the same points: the slots span whole steps from the first row, a row snaps to the
    # nearest slot with halves rounded away from zero (Rust's `round`, not numpy's
    # half-to-even), the last slot takes what rounds past it, and a later row wins a slot.
    secs = (df["ts"] - t0).dt.total_seconds().values
    n = int(secs[-1] // step) + 1
    idx = np.minimum(np.floor(secs / step + 0.5).astype(int), n - 1)
    y = np.full(n, np.nan)
    y[idx] = df["v"].values
    y = pd.Series(y).interpolate(limit_direction="both").values
    return y, step, t0.value // 10**6


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


LAGS = 23


def roll(y, w):
    """Mean and standard deviation of y[t+1-w..t] for every t (fewer points at the start)."""
    s = pd.Series(y)
    r = s.rolling(w, min_periods=1)
    return r.mean().values, r.std(ddof=0).fillna(0.0).values


def gbm_features(y, ts0, step, day, h, ts_idx):
    """The peer's features at origins `ts_idx` for a target h steps ahead, relative to
    y[t]: lags y[t-1..t-23], rolling mean/std over 12 points and a day, the value a day and
    a week before the target, hour-of-day and day-of-week of the target."""
    t = np.asarray(ts_idx)
    now = y[t]
    cols = []
    for k in range(1, LAGS + 1):
        cols.append(np.where(t - k >= 0, y[np.maximum(t - k, 0)] - now, np.nan))
    for w in (12, day or 288):
        m, sd = roll(y, w)
        cols.append(m[t] - now)
        cols.append(sd[t])
    for back in ((day or 288), 7 * (day or 288)):
        j = t + h - back
        cols.append(np.where(j >= 0, y[np.maximum(j, 0)] - now, np.nan))
    target_ms = ts0 + (t + h) * int(step * 1000)
    cols.append((target_ms % 86_400_000) / 3_600_000.0)
    cols.append(((target_ms // 86_400_000) + 3) % 7)
    return np.column_stack(cols)


GBM_PARAMS = dict(objective="l1", learning_rate=0.05, num_leaves=31, min_data_in_leaf=20,
                  feature_fraction=0.8, bagging_fraction=0.8, bagging_freq=1, num_threads=1,
                  verbose=-1, seed=0)
GBM_ROUNDS = 300


def lightgbm_origins(y, ts0, step, hs, origins):
    """Point forecasts per horizon at each origin: one model per horizon, refit once per
    day of origins on the history up to the origin (capped at 4,032 points, 10,080 for
    one-minute series)."""
    import lightgbm as lgb
    day = int(86400 // step) if 86400 % step == 0 else None
    cap = 10_080 if step <= 60 else 4_032
    every = day or 288
    out = {h: np.empty(len(origins)) for h in hs}
    for b in range(0, len(origins), every):
        t_fit = origins[b]
        lo = max(0, t_fit + 1 - cap)
        block = origins[b:b + every]
        for h in hs:
            train_t = np.arange(lo, t_fit + 1 - h)
            X = gbm_features(y, ts0, step, day, h, train_t)
            target = y[train_t + h] - y[train_t]
            m = lgb.train(GBM_PARAMS, lgb.Dataset(X, target), num_boost_round=GBM_ROUNDS)
            out[h][b:b + len(block)] = y[block] + m.predict(gbm_features(y, ts0, step, day, h, block))
    return out


def vigil_origins(path, hs, origins, exe, save):
    """`vigil backtest forecast` on the trace (the release build): its points and bands
    per horizon, in origin order, for the same origins."""
    import subprocess, tempfile
    with tempfile.TemporaryDirectory() as d:
        name = os.path.basename(path)[:-4]
        out = os.path.join(save or d, name + ".preds.csv")
        extra = ["--models-out", os.path.join(save, name + ".models.csv")] if save else []
        subprocess.run([exe, "backtest", "forecast", "--trace", path, "--horizons",
                        ",".join(map(str, hs)), "--out", out] + extra, check=True,
                       capture_output=True)
        p = pd.read_csv(out)
    res = {}
    for h in hs:
        q = p[p["horizon"] == h]
        assert len(q) == len(origins), f"{path}: {len(q)} rows at horizon {h}, {len(origins)} origins"
        res[h] = (q["point"].values, q["lo"].values, q["hi"].values)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--traces", default=os.environ.get("VIGIL_TRACES", "../shared/data"))
    ap.add_argument("--models", default="naive,LightGBM,AutoETS,AutoARIMA")
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--vigil", action="store_true")
    ap.add_argument("--save")
    ap.add_argument("--vigil-bin", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "vigil"))
    a = ap.parse_args()
    import json
    done = {}
    if a.save:
        os.makedirs(a.save, exist_ok=True)
        log = os.path.join(a.save, "results.jsonl")
        if os.path.exists(log):
            for line in open(log):
                r = json.loads(line)
                done[(r["model"], r["trace"])] = r
    files = sorted(
        f for f in glob.glob(os.path.join(a.traces, "**", "*.csv"), recursive=True)
        if any(k in f for k in ("realAWSCloudwatch", "nasa_http", "bitbrains", "alibaba2018"))
    )
    models = a.models.split(",") + (["vigil"] if a.vigil else [])
    table = {}
    for model in models:
        mases, covs, secs, count, per_trace = [], [], 0.0, 0, []
        for f in files:
            name = os.path.basename(f)[:-4]
            if (model, name) in done and a.stride == done[(model, name)].get("stride", 1):
                r = done[(model, name)]
                mases.append(r["mase"])
                per_trace.append((name, r["mase"]))
                if r["coverage"]:
                    covs.append(r["coverage"])
                secs += r["seconds"]
                count += r["origins"]
                continue
            secs_before, count_before = secs, count
            y, step, ts0 = load(f)
            hs = [1, 15, 60] if step == 60 else [1, 3, 12]
            day = int(86400 // step) if 86400 % step == 0 else None
            n = len(y)
            n_train = n - int(math.floor(n * 0.3))
            scale = mase_scale(y[:n_train], day)
            err = {h: [] for h in hs}
            hit = {h: [] for h in hs}
            origins = np.arange(n_train - 1, n - max(hs))
            if model in ("LightGBM", "vigil"):
                # Every origin: their cost is in the refits, once per day of origins.
                t0 = time.perf_counter()
                pts = ({h: (v, None, None) for h, v in
                        lightgbm_origins(y, ts0, step, hs, origins).items()}
                       if model == "LightGBM"
                       else vigil_origins(f, hs, origins, a.vigil_bin, a.save))
                secs += time.perf_counter() - t0
                count += len(origins)
                for h in hs:
                    err[h] = np.abs(y[origins + h] - pts[h][0])
                    if pts[h][1] is not None:
                        hit[h] = (pts[h][1] <= y[origins + h]) & (y[origins + h] <= pts[h][2])
                mases.append([np.mean(err[h]) / scale for h in hs])
                per_trace.append((name, mases[-1]))
                cov = [float(np.mean(hit[h])) for h in hs] if len(hit[hs[0]]) else None
                if cov:
                    covs.append(cov)
                record(a.save, model, name, mases[-1], cov, secs - secs_before,
                       count - count_before, a.stride)
                continue
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
            per_trace.append((name, mases[-1]))
            cov = [float(np.mean(hit[h])) for h in hs] if hit[hs[0]] else None
            if cov:
                covs.append(cov)
            record(a.save, model, name, mases[-1], cov, secs - secs_before,
                   count - count_before, a.stride)
        m = np.mean(mases, axis=0)
        cov = ("/".join(f"{c * 100:.1f}%" for c in np.mean(covs, axis=0))) if covs else "-"
        print(f"{model:10} MASE {m[0]:.3f} {m[1]:.3f} {m[2]:.3f}  coverage {cov}  "
              f"{secs / max(count, 1) * 1000:.2f} ms/origin  ({len(files)} traces, stride {a.stride})",
              flush=True)
        table[model] = dict(per_trace)
    # Per trace and horizon: where each model stands against naive.
    names = [n for n in table[models[0]]]
    print(f"\nMASE per trace, horizons short / middle / long")
    print(f"{'trace':40} " + " ".join(f"{m[:20]:>20}" for m in models))
    for n in names:
        print(f"{n[:40]:40} " + " ".join(
            "  " + "/".join(f"{v:.3f}" for v in table[m][n]) for m in models))


def record(save, model, name, mase, cov, secs, count, stride):
    """Appends one (model, trace) result to DIR/results.jsonl, so a long run loses
    nothing and resumes."""
    if not save:
        return
    import json
    with open(os.path.join(save, "results.jsonl"), "a") as w:
        w.write(json.dumps(dict(model=model, trace=name, mase=[float(m) for m in mase],
                                coverage=cov, seconds=secs, origins=int(count),
                                stride=stride)) + "\n")
    print(f"  {model} {name}: MASE " + "/".join(f"{m:.3f}" for m in mase)
          + (f" coverage " + "/".join(f"{c * 100:.1f}%" for c in cov) if cov else ""),
          flush=True)


if __name__ == "__main__":
    main()
