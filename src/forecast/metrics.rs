//! Forecast scores as ../shared/EVAL.md defines them: MASE, sMAPE, band coverage.

/// Quantile of sorted values, interpolating between neighbours.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    super::conformal::quantile(sorted, q)
}

/// Autocorrelation at `lag`.
fn acf(y: &[f64], lag: usize) -> f64 {
    let n = y.len();
    if lag >= n {
        return 0.0;
    }
    let m = y.iter().sum::<f64>() / n as f64;
    let den: f64 = y.iter().map(|v| (v - m).powi(2)).sum();
    if den == 0.0 {
        return 0.0;
    }
    (lag..n).map(|i| (y[i] - m) * (y[i - lag] - m)).sum::<f64>() / den
}

/// The M4 competition's seasonality test at 90 %: the autocorrelation at lag `m` is
/// significant against the limit built from all shorter lags.
pub fn is_seasonal(y: &[f64], m: usize) -> bool {
    if m < 2 || y.len() < 3 * m {
        return false;
    }
    let sum: f64 = (1..m).map(|k| acf(y, k).powi(2)).sum();
    let limit = 1.645 * ((1.0 + 2.0 * sum) / y.len() as f64).sqrt();
    acf(y, m).abs() > limit
}

/// The in-sample MAE of the daily seasonal naive when the training part is seasonal at
/// one day, else of the naive forecast. Returns (scale, seasonal).
pub fn mase_scale(train: &[f64], day: Option<usize>) -> (f64, bool) {
    let seasonal = day.is_some_and(|d| is_seasonal(train, d));
    let lag = if seasonal { day.unwrap_or(1) } else { 1 };
    let n = train.len();
    if n <= lag {
        return (f64::NAN, seasonal);
    }
    let s = (lag..n)
        .map(|i| (train[i] - train[i - lag]).abs())
        .sum::<f64>()
        / (n - lag) as f64;
    (s, seasonal)
}

pub fn smape(actual: f64, point: f64) -> f64 {
    let den = actual.abs() + point.abs();
    if den == 0.0 {
        0.0
    } else {
        200.0 * (actual - point).abs() / den
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Scores {
    pub horizon: usize,
    pub n: usize,
    pub mase: f64,
    pub smape: f64,
    pub coverage: f64,
}

/// Scores (actual, point, lo, hi) rows of one horizon.
pub fn score(horizon: usize, rows: &[(f64, f64, f64, f64)], scale: f64) -> Scores {
    let n = rows.len().max(1) as f64;
    let mae = rows.iter().map(|(a, p, _, _)| (a - p).abs()).sum::<f64>() / n;
    Scores {
        horizon,
        n: rows.len(),
        mase: if scale > 0.0 { mae / scale } else { f64::NAN },
        smape: rows.iter().map(|(a, p, _, _)| smape(*a, *p)).sum::<f64>() / n,
        coverage: rows
            .iter()
            .filter(|(a, _, lo, hi)| lo <= a && a <= hi)
            .count() as f64
            / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daily_sine_is_seasonal_and_noise_is_not() {
        let sine: Vec<f64> = (0..288 * 5)
            .map(|i| (i as f64 / 288.0 * std::f64::consts::TAU).sin())
            .collect();
        assert!(is_seasonal(&sine, 288));
        let mut x = 1u64;
        let noise: Vec<f64> = (0..288 * 5)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 33) as f64 / (1u64 << 31) as f64
            })
            .collect();
        assert!(!is_seasonal(&noise, 288));
    }

    #[test]
    fn mase_scale_is_the_naive_mae_without_seasonality() {
        let (s, seasonal) = mase_scale(&[1.0, 3.0, 2.0, 6.0], None);
        assert!(!seasonal);
        assert_eq!(s, (2.0 + 1.0 + 4.0) / 3.0);
    }

    #[test]
    fn score_counts_band_hits_and_symmetric_error() {
        let s = score(1, &[(10.0, 8.0, 5.0, 15.0), (10.0, 10.0, 11.0, 12.0)], 2.0);
        assert_eq!(s.mase, 0.5);
        assert_eq!(s.coverage, 0.5);
        assert!((s.smape - 200.0 * 2.0 / 18.0 / 2.0).abs() < 1e-12);
    }
}
