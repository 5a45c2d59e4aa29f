"""Counting a 7B-parameter decoder on the meta device: time and resident memory.

Requirement (issue 2): `hf:llama` with hidden_size 4096, intermediate_size 11008,
32 layers, 32 heads, sequence 2048 is counted in seconds and under 2 GiB of
resident memory on a 2-core CPU. Each run is a fresh process, so its peak
resident set (ru_maxrss) is the whole cost, interpreter and imports included.

    python benchmarks/count_7b_on_meta.py [--runs 3]
"""

import argparse
import json
import os
import platform
import subprocess
import sys

CHILD = r"""
import json, resource, time
t0 = time.perf_counter()
import fairness
t_import = time.perf_counter() - t0
t1 = time.perf_counter()
r = fairness.measure("hf:llama", kwargs=dict(hidden_size=4096, intermediate_size=11008,
                     num_hidden_layers=32, num_attention_heads=32), seq_len=2048, fvcore=False)
t_measure = time.perf_counter() - t1
print(json.dumps({"import_s": t_import, "measure_s": t_measure,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "params": r.params["unique"], "macs": r.flops["macs"],
                  "attention_macs": r.flops["attention"]["macs_dense"],
                  "effective_attention_macs": r.flops["attention"]["macs_effective"],
                  "coverage": r.flops["coverage"], "bytes_moved": r.memory["bytes_moved"]}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    r = rows[0]
    # Analytic check: per token, every weight matrix is one MAC per element (embedding lookups are free),
    # plus attention: 32 layers x 2 matmuls x 2048 keys x 4096.
    matrix_params = r["params"] - 32000 * 4096 - (2 * 32 + 1) * 4096  # minus embedding and RMSNorm weights
    analytic = 2048 * matrix_params + 32 * 2 * 2048 * 2048 * 4096
    from fairness.indicators.env import cpu_name

    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print("model: hf:llama 4096 hidden, 11008 MLP, 32 layers, 32 heads; tokens 1x2048; counted on meta\n")
    print(f"{'run':>3}  {'import s':>8}  {'measure s':>9}  {'peak RSS MiB':>12}")
    for i, row in enumerate(rows, 1):
        print(f"{i:>3}  {row['import_s']:>8.2f}  {row['measure_s']:>9.2f}  {row['maxrss_kib'] / 1024:>12.0f}")
    print(f"\nparameters (unique): {r['params'] / 1e9:.4f} G")
    print(f"MACs per example:    {r['macs'] / 1e12:.4f} T (analytic {analytic / 1e12:.4f} T)")
    print(f"attention MACs:      {r['attention_macs'] / 1e9:.1f} G dense, "
          f"{r['effective_attention_macs'] / 1e9:.1f} G causal-effective")
    print(f"coverage: {r['coverage']:.4f}; bytes moved: {r['bytes_moved'] / 2**30:.1f} GiB")
    assert r["macs"] == analytic, "counted MACs differ from the analytic count"


if __name__ == "__main__":
    main()
