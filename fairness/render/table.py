"""Terminal and CSV views of a results file. Pure functions of the results dict."""

from __future__ import annotations

import csv
import io
import shlex
import textwrap

from ..flags import run_host_bound
from ..readings import generation_noise, input_text
from ..results import file_entry
from ..units import percent, seconds, si, size


def _generation_lines(gen: dict | None) -> list[str]:
    """--generate: per batch size the prefill, the decode steps and the cache (indicators/generate.py)."""
    if not gen:
        return []
    if gen.get("unavailable"):
        return ["", f"generation: not timed: {gen['unavailable']}"]
    idle = any(r.get("idle_share") is not None for r in gen["runs"])  # eager decode on CUDA
    rows = [("batch", "implementation", "TTFT", "TPOT", "decode", "spread", "prefill", "KV cache", "floor / TPOT")
            + (("GPU idle",) if idle else ())]
    notes = []
    for r in gen["runs"]:
        if "error" in r:
            notes.append(f"batch {r['batch_size']}: generation ({r.get('implementation', '')}) failed: {r['error']}")
            continue
        rows.append((r["batch_size"], r.get("implementation", ""), seconds(r["ttft_s"]), seconds(r["tpot_s"]),
                     si(r["decode_tokens_per_s"], "tok/s"), f"±{percent(generation_noise(r, 'decode_throughput'))}",
                     si(r["prefill_tokens_per_s"], "tok/s"), f"{size(r['kv_bytes_per_token'])}/token",
                     percent(r["floor_share"]) if r.get("floor_share") is not None else "n/a")
                    + ((percent(r["idle_share"]) if r.get("idle_share") is not None else "-",) if idle else ()))
        if run_host_bound(r):
            notes.append(f"batch {r['batch_size']} ({r['implementation']}): HOST-BOUND (the GPU idles "
                         f"{percent(r['idle_share'])} of a decode step): the host's launches set that decode speed, "
                         f"which is not judged")
        for what, why in (r.get("unavailable") or {}).items():
            notes.append(f"batch {r['batch_size']} ({r.get('implementation', '')}): {what.replace('_', ' ')} not "
                         f"measured: {why}")
    first = next((r for r in gen["runs"] if "error" not in r), {})
    kv = first.get("kv_layout") or {}
    head = (f"generation: {gen['prompt']} prompt tokens, {gen['new']} new, greedy; "
            f"KV cache: {kv.get('layers')} layers x {kv.get('kv_heads')} KV heads x {kv.get('head_dim')} x 2")
    legend = ("TTFT: time to first token (the prefill); TPOT: time per output token, the median decode step (the "
              "prefill not in it); decode: batch / TPOT; spread: half the 95% CI of the median over the runs, as a "
              "share of the median (with 3 runs, their range); floor / TPOT: the bytes a step must read (weights "
              "and the cache at the mean context) over the memory bandwidth, as a share of the measured step "
              "(1: at the memory-bound floor).")
    if idle:
        legend += (" GPU idle: the share of eager decode steps in which the GPU ran nothing (torch.profiler); over "
                   "half: host-bound.")
    if first.get("bandwidth_source"):
        legend += f" Bandwidth: {first['bandwidth_source']}."
    return ["", head, ""] + aligned(rows, left={0, 1}) + notes + [legend]


def model_table(m: dict, detail: bool = False) -> str:
    """One model's counting indicators, with units and conventions."""
    p, f, mem = m.params, m.flops, m.memory
    att = f.get("attention") or {}
    rows: list[tuple[str, str, str]] = [
        ("parameters (unique)", si(p["unique"]), "each storage once; tied weights once"),
        ("  total", si(p["total"]), "every registration; tied weights at each place"),
        ("  applied", si(p["applied"]), "once per use in one forward pass"),
        ("  active", si(p["active"]), "touched per token on average (MoE: routed share"
         + (f"; routing {f['routing']})" if f.get("routing") else ")")),
        ("  embedding", si(p["embedding"]), "token, position and patch embeddings"),
        ("  non-embedding", si(p["non_embedding"]), "unique minus embedding"),
        ("  trainable", si(p["trainable"]), "requires_grad"),
        ("  size", size(p["bytes"]), "bytes of unique parameters as stored"),
        ("MACs", si(f["macs"]), "multiply-accumulates of linear, conv, matmul, attention"),
    ]
    if att.get("calls"):
        note = "dense score matrix"
        if att.get("causal_calls"):
            note += f"; causal mask keeps {si(att['macs_effective'])} MACs"
        rows.append(("  in attention", si(att["macs_dense"]), note))
    rows += [
        ("FLOPs", si(f["flops"]), "2 x MACs + other FLOPs"),
        ("  other FLOPs", si(f["other_flops"]), "pointwise, norms, softmax, reductions, pooling"),
        ("activations", si(m.activations), "elements out of conv/linear/matmul ops (fvcore's definition)"),
        ("bytes moved", size(mem["bytes_moved"]), "read + written by every op, unfused: an upper bound"),
        ("arithmetic intensity", f"{f['arithmetic_intensity']:.4g}" if f.get("arithmetic_intensity") else "n/a",
         "FLOPs per byte moved"),
        ("coverage", percent(f["coverage"]), "executed ops counted or zero by definition"),
    ]
    if f.get("fvcore_macs") is not None:
        rows.append(("fvcore MACs", si(f["fvcore_macs"]), "second engine (torch.jit trace)"))
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    lines = [
        f"{m.name}  ({m.source}{_kwargs_text(m.kwargs)})",
        f"input: {input_text(m.input)}; counted on {m.counted_on or '?'}",
        "",
        f"{'indicator':<{width}}  {'value':>{vwidth}}  definition",
        f"{'-' * width}  {'-' * vwidth}  {'-' * 10}",
    ]
    lines += [f"{name:<{width}}  {value:>{vwidth}}  {note}" for name, value, note in rows]
    if f.get("unknown_ops"):
        ops = ", ".join(f"{k} x{v}" for k, v in sorted(f["unknown_ops"].items()))
        lines.append(f"not counted (unknown ops): {ops}")
    if f.get("fvcore_note"):
        lines.append(f"note: {f['fvcore_note']}")
    if m.speed is not None:
        lines += ["", speed_table(m)]
    if detail:
        lines += ["", _breakdown("by op", f["by_op"], 15), "", _breakdown("by module (depth <= 2)", {
            k: v for k, v in f["by_module"].items() if k == "(model)" or k.count(".") <= 1}, 25)]
    lines += [""] + textwrap.wrap(
        f"Counts per example (batch of {m.input.get('batch_size', 1)} divided by its size), "
        "one forward pass in eval mode. 1 MAC = one multiply + one add; FLOPs = 2 x MACs + other FLOPs. "
        "Prefixes are decimal (G = 1e9); bytes are binary (MiB = 2^20 B).", 110)
    return "\n".join(lines)


def aligned(rows: list[tuple], left: set[int]) -> list[str]:
    """Rows of cells as text lines in aligned columns: columns in `left` left-aligned, the
    rest (numbers) right-aligned; no trailing spaces."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(str(c).ljust(w) if i in left else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
            .rstrip() for r in rows]


def speed_table(m: dict) -> str:
    """One model's run-time indicators per batch size, with units and definitions."""
    sp = m.speed
    if sp is None:
        return ""
    st = sp.settings
    head = f"speed and memory of {m.name} on {st['device']}, {st['dtype']}"
    head += "".join([", channels_last" if st["channels_last"] else "",
                     f", compiled ({st['compile']})" if st["compile"] else "", f", {st['threads']} CPU threads",
                     ", in a worker process of its own (--isolate)" if st.get("isolate") else ""])
    rows = [("batch", "throughput", "95% CI", "latency p50", "p90", "p99 (n)", "peak memory", "idle", "energy",
             "achieved", "MFU")]
    notes: list[str] = []
    for r in sp.runs:
        b = str(r["batch_size"])
        if "error" in r:
            rows.append((b, "failed", "", "", "", "", "", "", "", "", ""))
            notes.append(f"batch {b}: {r['error']}")
            continue
        tp, lat, mem = r["throughput"], r.get("latency") or {}, r.get("memory") or {}
        peak = mem.get("peak_allocated_bytes", mem.get("peak_rss_bytes"))
        energy = r.get("energy")
        p99 = f"{seconds(lat['p99_s'])} ({lat['n']}{'' if lat['p99_reliable'] else ', few'})" if lat else ""
        rows.append((b, si(tp["samples_per_s"], "/s"), f"{si(tp['ci95'][0])}-{si(tp['ci95'][1])}",
                     seconds(lat.get("median_s")) if lat else "", seconds(lat.get("p90_s")) if lat else "", p99,
                     size(peak) if peak is not None else "n/a",
                     percent(r["idle_share"]) if r.get("idle_share") is not None else "n/a",
                     si(energy["joules_per_example"], "J") if energy else "n/a",
                     si(r.get("achieved_flops_per_s"), "FLOP/s"),
                     percent(r["mfu"]) if r.get("mfu") is not None else "n/a"))
        for what, why in (r.get("unavailable") or {}).items():
            notes.append(f"batch {b}: {what.replace('_', ' ')} not measured: {why}")
        if tp.get("tokens_per_s"):
            notes.append(f"batch {b}: {si(tp['tokens_per_s'], 'tokens/s')}")
        if tp["noisy"] or (lat and lat["noisy"]):
            notes.append(f"batch {b}: NOISY (IQR over 10% of the median); close other work or raise --min-time")
        if run_host_bound(r):
            notes.append(f"batch {b}: HOST-BOUND (the GPU idles {percent(r['idle_share'])} of a step): the "
                         f"host's kernel launches, its CPU and load set its speed more than the model")
        graph = r.get("cuda_graph")
        if graph and graph.get("unavailable"):
            notes.append(f"batch {b}: CUDA graph: {graph['unavailable']}")
        elif graph and graph.get("throughput"):
            glat = graph.get("latency") or {}
            notes.append(f"batch {b}: replayed from a CUDA graph: {si(graph['throughput']['samples_per_s'], '/s')}"
                         + (f", latency p50 {seconds(glat['median_s'])} (IQR {percent(glat['iqr_s'] / glat['median_s'])}"
                            f"{', NOISY' if glat['noisy'] else ''})" if glat else ""))
        if r.get("compile_s") is not None:
            notes.append(f"batch {b}: compilation (first call) took {seconds(r['compile_s'])}, not in the timings")
        tr = r.get("train")
        if tr and "error" in tr:
            notes.append(f"batch {b} training step: {tr['error']}")
        elif tr:
            tmem = (tr.get("memory") or {})
            tpeak = tmem.get("peak_allocated_bytes", tmem.get("peak_rss_bytes"))
            notes.append(f"batch {b} training step: {si(tr['throughput']['samples_per_s'], 'samples/s')}, "
                         f"{seconds(tr['step_s'])} per step, peak memory {size(tpeak)}, "
                         f"{si(tr.get('achieved_flops_per_s'), 'FLOP/s')} (3 x forward)"
                         + (f"; compilation took {seconds(tr['compile_s'])}" if tr.get("compile_s") else "")
                         + ("; NOISY" if tr["throughput"]["noisy"] else ""))
    lines = [head, ""] + aligned(rows, left={0})
    lines += notes + _generation_lines(sp.generate)
    work = sp.workload
    if work:
        if work.get("inference_s") is not None:
            lines.append(f"estimate: {work['examples']} examples take about {seconds(work['inference_s'])} "
                         f"({work['basis']})")
        if work.get("train_s") is not None:
            lines.append(f"estimate: {work['train_steps']} training steps take about {seconds(work['train_s'])} "
                         f"({work['basis']})")
    for what, why in (sp.unavailable or {}).items():
        lines.append(f"{what.replace('_', ' ')}: not measured; {why}")
    definitions = (
        "throughput: samples/s, median over timed blocks (one synchronize per block), with the 95% CI of the "
        "median. latency: one call, timed by CUDA events (GPU) or the host clock (CPU); p99 marked 'few' when "
        "n < 100. peak memory: " + (m.memory.get("peak_definition") or "n/a") + ". idle: share of a run of "
        "back-to-back steps in which the GPU runs no kernel (torch.profiler). energy: NVML board energy per "
        "example. achieved: 2 x MACs x samples/s (training step: 3 x that); MFU: achieved / the device's "
        "datasheet peak for this dtype. NOISY: IQR over 10% of the median.")
    lines += [""] + textwrap.wrap(definitions, 110)
    return "\n".join(lines)


def speed_summary(results: dict) -> str:
    """The environment a speed number depends on, and every model's speed-up over the first."""
    env = results["environment"]
    cuda = env["device"].startswith("cuda")
    gpu = f"driver {env.get('driver') or 'n/a'}, CUDA {env.get('cuda')}, " if cuda else ""
    switches = f", TF32 matmul {env['tf32']}, cudnn.benchmark {env['cudnn_benchmark']}" if cuda else ""
    lines = textwrap.wrap(f"environment: {env['device_name']} ({env['device']}); {gpu}torch {env['torch']}, "
                          f"timm {env.get('timm')}; CPU {env['cpu']}, {env['threads']} threads of "
                          f"{env.get('physical_cores')} physical cores; dtype {env['dtype']}{switches}, "
                          f"compile {env['compile']}", 110, subsequent_indent="  ")
    ratios = results.get("speed_ratios") or []
    if ratios:
        lines += ["", "speed-ups (reference time per example / model time per example, paired round by round; "
                      "> 1: faster)"]
        for r in ratios:
            how = " (CUDA graph replays)" if r.get("implementation") == "cuda_graph" else ""
            lines.append(f"  {r['model']} vs {r['reference']}: {r['indicator']}{how} at batch {r['batch_size']}: "
                         f"{r['speedup']:.3f}x [95% CI {r['ci95'][0]:.3f}-{r['ci95'][1]:.3f}, {r['n']} rounds]")
    return "\n".join(lines)


def match_table(results: dict) -> str:
    """`fairness match`: the baseline beside each variant, original and matched complexity side by side."""
    mt = results["matching"]
    models = results["models"]
    unit = {"throughput": "/s", "latency": "s", "decode_throughput": " tokens/s", "ttft": "s"}.get(mt["indicator"], "")
    lines = [f"{mt['baseline']} ({mt['family']}) matched on {mt['indicator']}: target "
             f"{si(mt['target'], unit)}" + (f" (the {mt['match_to']} value)" if mt["match_to"] else "")
             + f"; {mt['convention']}", ""]
    header = ("model", "knobs", "params", "MACs", "FLOPs", "achieved", "error", "")
    rows = [header]
    for m in models:
        match = m.match or {}
        label = m.role if m.role != "variant" else match.get("strategy", "variant")
        achieved = si(match["achieved"], unit) if match else ""
        error = f"{match['rel_error']:+.2%}" if match else ""
        status = ""
        if match:
            status = "within tolerance" if match["within_tolerance"] else match.get("reason", "")
            if match.get("noise") is not None:  # speed: the tolerance beside the measurement's own noise
                what = (f"95% CI half-width of the speed-up over {match['paired_with']}, timed together"
                        if match.get("paired_with") else "IQR/median")
                status += f" (noise {match['noise']:.1%} {what}{', NOISY' if match['noisy'] else ''})"
                if match.get("timed_as"):  # replays or eager: what the search timed, as the verdict reads it
                    status += f"; timed as {match['timed_as']}"
        if m.capacity_loss:
            status += ("; " if status else "") + "CAPACITY LOSS: " + ", ".join(m.capacity_loss)
        knobs = " ".join(f"{k}={v}" for k, v in (m.knobs or {}).items()) or m.name
        rows.append((label, knobs, si(m.params["unique"]), si(m.flops["macs"]), si(m.flops["flops"]),
                     achieved, error, status))
    lines += aligned(rows, left={0, 1, 7})
    lines += ["", "rebuild each variant (to train it):"]
    for m in models:
        if m.role == "variant":
            lines.append(f"  {m.match['strategy']:<9} fairness measure {m.source}{_kwargs_text(m.kwargs)}"
                         + _input_flags(m.input))
    for strategy, why in mt["skipped"].items():
        lines.append(f"{strategy}: not applicable; {why}")
    for strategy, why in (mt.get("failed") or {}).items():
        lines.append(f"{strategy}: FAILED; {why}")
    for strategy, why in (mt.get("unreachable") or {}).items():
        lines.append(f"{strategy}: not reachable, no variant; {why}")
    lines += [""] + textwrap.wrap(
        f"Lattice: {mt['family_description']}. Tolerance {next((m.match['tolerance'] for m in models if m.match), 0):.0%}; "
        "a strategy that cannot get within it gives no variant. Capacity loss: under half the baseline's "
        f"params, depth or width. Counts per example, on the "
        f"{' and '.join(sorted({m.counted_on or '?' for m in models}))} device.", 110)
    return "\n".join(lines)


def _input_flags(inp: dict) -> str:
    if inp.get("kind") == "image" and not inp.get("default_from"):
        return f" --image-size {inp['height']},{inp['width']}"
    if inp.get("kind") == "tokens" and not inp.get("default_from"):
        return f" --seq-len {inp['seq_len']}"
    return ""


def _kwargs_text(kwargs) -> str:
    """` -k KEY=VALUE` each, as a shell passes them back: a list without spaces ([3,4,6,3], one
    argument) and quoted where a shell would read a character itself (brackets glob)."""
    def value(v) -> str:
        return "[" + ",".join(map(str, v)) + "]" if isinstance(v, (list, tuple)) else str(v)

    return "".join(f" -k {shlex.quote(f'{k}={value(v)}')}" for k, v in (kwargs or {}).items())


def _breakdown(title: str, entries: dict, limit: int) -> str:
    ranked = sorted(entries.items(), key=lambda kv: -kv[1]["flops"])[:limit]
    width = max([len(k) for k, _ in ranked] + [len(title)])
    lines = [f"{title:<{width}}  {'calls':>6}  {'MACs':>10}  {'FLOPs':>10}  {'bytes moved':>11}"]
    lines += [f"{k:<{width}}  {v['calls']:>6}  {si(v['macs']):>10}  {si(v['flops']):>10}  "
              f"{size(v['bytes_moved']):>11}" for k, v in ranked]
    if len(entries) > limit:
        lines.append(f"... {len(entries) - limit} more in the JSON output")
    return "\n".join(lines)


def _flatten(prefix: str, value, out: dict) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list):  # ci95 -> ci95.0, ci95.1
        for i, v in enumerate(value):
            _flatten(f"{prefix}.{i}", v, out)
    else:
        out[prefix] = value


# Breakdowns and per-batch runs (raw times included) are tables of their own, not columns;
# the headline throughput and latency are columns.
_CSV_SKIP = ("flops.by_op", "flops.by_module", "speed.runs")


def csv_text(results: dict) -> str:
    """One row per model, flat dotted columns, raw numbers (no prefixes, no separators)."""
    rows = []
    for m in results["models"]:
        flat: dict = {}
        _flatten("", file_entry(m), flat)
        rows.append({k: v for k, v in flat.items() if not k.startswith(_CSV_SKIP)})
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()
