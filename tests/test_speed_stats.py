"""Statistics of repeated timings, on fixed samples worked out by hand; the loop on the CPU.
No assertion here depends on how fast this machine is."""

import pytest
import torch

from fairness.indicators.speed import Timing, latency_from, median_ci95, run_timed, throughput_from


def test_median_iqr_percentiles_by_hand():
    t = Timing((0.5, 0.1, 0.4, 0.2, 0.3))  # sorted: .1 .2 .3 .4 .5
    assert t.median_s == pytest.approx(0.3)
    assert t.iqr_s == pytest.approx(0.4 - 0.2)  # quartiles at ranks 1 and 3 of 0..4
    assert t.percentile_s(0.9) == pytest.approx(0.46)  # rank 3.6: .4 + .6 x .1
    assert t.noisy  # IQR 0.2 is 67% of the median


def test_quiet_measurement_is_not_noisy():
    assert not Timing((1.00, 1.01, 0.99, 1.02, 0.98)).noisy  # IQR 0.02 = 2% of the median


def test_median_ci95_order_statistics():
    values = list(range(1, 101))  # n = 100: r = floor(50 - 9.8) = 40, s = ceil(1 + 50 + 9.8) = 61
    assert median_ci95(values) == (40, 61)
    assert median_ci95([3.0]) == (3.0, 3.0)


def test_throughput_and_latency_records():
    blocks = Timing((0.5, 0.5, 1.0))  # 10 calls of batch 4 per block
    tp = throughput_from(blocks, batch_size=4, calls_per_block=10)
    assert tp.samples_per_s == pytest.approx(80.0)  # rates 80, 80, 40
    assert tp.n == 3 and tp.calls_per_block == 10
    lat = latency_from(Timing(tuple(0.01 for _ in range(20))), batch_size=1)
    assert lat.median_s == pytest.approx(0.01) and lat.iqr_s == 0
    assert not lat.p99_reliable  # 20 samples cannot say much about the 99th percentile


def test_timing_loop_meets_count_and_counts_calls():
    calls = []
    model = torch.nn.Linear(8, 8)
    x = torch.randn(2, 8)

    def step():
        calls.append(1)
        with torch.no_grad():
            model(x)

    t = run_timed(step, "cpu", per_call=False, calls_per_block=5, warmup_s=0.0, min_warmup=3,
                  min_blocks=4, min_duration_s=0.0)
    assert t.n == 4
    assert len(calls) == 3 + 4 * 5  # warm-up calls, then 4 blocks of 5
    assert all(s > 0 for s in t.times_s)
