"""Writes stats.fixture.json: reference values for worker/reports/stats.ts, computed with SciPy.

Run: python3 test/unit/reports/stats_fixture.py > test/unit/reports/stats.fixture.json
Independent of Cohort's code: scipy.stats.chisquare for SRM, scipy.stats.norm for the interval,
scipy.integrate.quad over scipy.stats.beta for the chance to beat.
"""
import json, math, sys
import scipy
from scipy import stats, integrate

uplift_cases = [
    ((1000, 100), (1000, 120)),
    ((5000, 250), (5000, 300)),
    ((200, 20), (180, 15)),
    ((10000, 1234), (10050, 1301)),
]
beat_cases = [
    ((1000, 100), (1000, 120)),
    ((5000, 250), (5000, 300)),
    ((200, 20), (180, 15)),
    ((10, 1), (10, 3)),
    ((0, 0), (0, 0)),
    ((100000, 5000), (100000, 5100)),
]
srm_cases = [
    ([5000, 5000], [1, 1]),
    ([5100, 4900], [1, 1]),
    ([5300, 4700], [1, 1]),
    ([1000, 1040, 960], [1, 1, 1]),
    ([900, 4050, 4050], [0.1, 0.45, 0.45]),
    ([1200, 4400, 4400], [0.1, 0.45, 0.45]),
]

z = stats.norm.ppf(0.975)
out = {"provenance": f"python3 test/unit/reports/stats_fixture.py with scipy {scipy.__version__}", "uplift": [], "chanceToBeat": [], "srm": []}
for (n0, c0), (n1, c1) in uplift_cases:
    p0, p1 = c0 / n0, c1 / n1
    se = math.sqrt(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1)
    d = p1 - p0
    out["uplift"].append({"control": {"exposed": n0, "converted": c0}, "variant": {"exposed": n1, "converted": c1},
                          "relative": d / p0, "ci95": [(d - z * se) / p0, (d + z * se) / p0]})
for (n0, c0), (n1, c1) in beat_cases:
    a0, b0, a1, b1 = 1 + c0, 1 + n0 - c0, 1 + c1, 1 + n1 - c1
    lo = min(stats.beta.ppf(1e-12, a0, b0), stats.beta.ppf(1e-12, a1, b1))
    hi = max(stats.beta.isf(1e-12, a0, b0), stats.beta.isf(1e-12, a1, b1))
    value, _ = integrate.quad(lambda x: stats.beta.pdf(x, a1, b1) * stats.beta.cdf(x, a0, b0), lo, hi, limit=500, epsabs=1e-12)
    out["chanceToBeat"].append({"control": {"exposed": n0, "converted": c0}, "variant": {"exposed": n1, "converted": c1}, "value": value})
for observed, shares in srm_cases:
    total = sum(observed)
    expected = [total * s / sum(shares) for s in shares]
    res = stats.chisquare(observed, expected)
    out["srm"].append({"observed": observed, "shares": shares, "chiSquare": float(res.statistic), "pValue": float(res.pvalue)})
json.dump(out, sys.stdout, indent=2)
print()
