"""The statistics bench/run.py writes into docs/benchmarks.md: percentiles,
the same-run CPU ratio against the best peer, and p99 over pooled runs.
Pure functions; no proxy runs here."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
import run  # noqa: E402


@pytest.mark.parametrize("values, p, expected", [
    ([], 50, None),
    ([7.0], 99, 7.0),
    ([1.0, 2.0, 3.0, 4.0, 5.0], 0, 1.0),
    ([1.0, 2.0, 3.0, 4.0, 5.0], 50, 3.0),
    ([1.0, 2.0, 3.0, 4.0, 5.0], 100, 5.0),
    ([1.0, 2.0, 3.0, 4.0, 5.0], 90, 4.6),   # interpolated between 4 and 5
    ([float(i) for i in range(1, 101)], 99, 99.01),
])
def test_percentile(values, p, expected):
    result = run.percentile(values, p)
    if expected is None:
        assert result != result  # NaN: no latencies, no percentile
    else:
        assert result == pytest.approx(expected)


def test_cpu_ratio_is_taken_within_each_run_then_the_median():
    # Run 2 is slow for everyone; a ratio of medians would mix runs.
    runs = {
        ("mesh-proxy", "h1max"): [{"cpu_us_per_req": 10.0}, {"cpu_us_per_req": 20.0}, {"cpu_us_per_req": 11.0}],
        ("nginx", "h1max"): [{"cpu_us_per_req": 11.0}, {"cpu_us_per_req": 19.0}, {"cpu_us_per_req": 12.0}],
        ("haproxy", "h1max"): [{"cpu_us_per_req": 12.0}, {"cpu_us_per_req": 25.0}, {"cpu_us_per_req": 10.0}],
    }
    ratios = run.cpu_ratios(runs, ["direct", "mesh-proxy", "haproxy", "nginx"])
    # Per run, against the cheaper peer: 10/11, 20/19, 11/10.
    assert ratios[("mesh-proxy", "cpu_vs_best_peer")] == pytest.approx(20 / 19)
    assert ("direct", "cpu_vs_best_peer") not in ratios


def test_observability_cost_is_the_median_of_same_run_ratios():
    runs = {
        ("mesh-proxy", "h1max"): [{"cpu_us_per_req": 10.0}, {"cpu_us_per_req": 20.0}, {"cpu_us_per_req": 10.0}],
        (run.OBSERVED, "h1max"): [{"cpu_us_per_req": 10.5}, {"cpu_us_per_req": 20.2}, {"cpu_us_per_req": 13.0}],
    }
    ratios = run.cpu_ratios(runs, ["mesh-proxy", run.OBSERVED])
    # Per run 1.05, 1.01, 1.3: the median, not the ratio of medians (1.05).
    assert ratios[(run.OBSERVED, "cpu_vs_mesh_proxy")] == pytest.approx(1.05)
    assert "1.050x" in run.report({**ratios}, [], [], type("A", (), {"reps": 3, "duration": 5}),
                                  {"date": "d", "cpu": "c", "cores": 2, "versions": "v"})


def test_pooled_p99_uses_every_runs_tail():
    fast = {"latencies": [0.1] * 99 + [0.2]}
    slow = {"latencies": [0.1] * 90 + [5.0] * 10}
    runs = {("mesh-proxy", "lat1k"): [fast, fast, slow], ("mesh-proxy", "h1max"): [{"rps": 1.0}],
            ("mesh-proxy", "idle_rss_kib"): [7800]}
    pooled = run.pooled_p99s(runs)
    # The median of the runs' p99s would be the fast runs' 0.2; pooled, the
    # slow run's 10 outliers are 3.3% of all requests, so p99 is 5.0.
    assert pooled == {("mesh-proxy", "lat1k_pooled_p99"): pytest.approx(5.0)}
