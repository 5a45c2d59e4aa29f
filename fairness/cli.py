"""The `fairness` command. Thin: parse, call the library, print."""

from __future__ import annotations

import time
import traceback

import click

from .errors import EXIT_INTERRUPTED, EXIT_SOME_FAILED, FairnessError

EPILOG_MEASURE = """\b
Examples:
  fairness measure timm:vit_base_patch16_224
  fairness measure timm:vit_base_patch16_224 -k depth=6 -k embed_dim=384 -k num_heads=6
  fairness measure torchvision:resnet50 --image-size 320 --batch 8
  fairness measure hf:bert --seq-len 512 --format json > bert.json
  fairness measure hf:llama -k hidden_size=4096 -k intermediate_size=11008 \\
      -k num_hidden_layers=32 -k num_attention_heads=32 --seq-len 2048
  fairness measure python:mypkg.models:build --inputs python:mypkg.models:example_inputs

\b
Sources: timm:NAME, torchvision:NAME, hf:MODEL_TYPE (transformers' AutoConfig.for_model,
no download; language models with their output head), hf-base:MODEL_TYPE (the bare body),
python:package.module:factory. Weights are never downloaded.
Counts are per example; the meta device counts any size of model without memory for weights.
"""


class _Group(click.Group):
    """Turns FairnessError into one line on stderr and exit code 2 (`--debug`: a traceback)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except FairnessError as e:
            if ctx.meta.get("debug"):
                traceback.print_exc()
            click.echo(f"error: {e.message}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fairness")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def main(ctx, debug):
    """fairness: fair comparisons of machine-learning models.

    Measures every cost indicator (parameters in all their senses, MACs and
    FLOPs, activations, bytes moved, throughput, latency, peak memory, idle
    share, energy), builds baselines matched on them, flags unfair
    comparisons and writes the report, so that a comparison on one indicator
    cannot hide a loss on another ("The Efficiency Misnomer", Dehghani et al.,
    ICLR 2022). Start with `fairness demo`.
    """
    ctx.meta["debug"] = debug


def _progress(quiet: bool):
    start = time.perf_counter()

    def report(message: str) -> None:
        if not quiet:
            click.echo(f"[{time.perf_counter() - start:6.1f}s] {message}", err=True)

    return report


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _parse_batches(text: str) -> tuple:
    """'1', '1,32,256' or 'auto' (also mixed: '1,auto')."""
    out = []
    for part in str(text).split(","):
        part = part.strip()
        if part == "auto":
            out.append("auto")
            continue
        try:
            value = int(part)
        except ValueError:
            value = 0
        if value <= 0:
            raise FairnessError(f"--batch {text!r}: expected positive batch sizes or auto, e.g. --batch 1,32,256 "
                                f"or --batch auto")
        out.append(value)
    return tuple(dict.fromkeys(out))


# shared by measure and compare
_isolate_option = click.option(
    "--isolate/--no-isolate", default=None,
    help="Time each model in a worker process of its own, still interleaved, so allocator and autotuner "
         "state cannot pass between models. Off by default: on an H200 it cost 25-83% more wall time, and "
         "batch-1 ratios between processes were less stable (benchmarks/RESULTS.md).")


def _count_device_option(default: str | None = "meta", also: str = ""):
    """--count-device, shared by measure, match and compare."""
    return click.option("--count-device", default=default, show_default=default is not None,
                        metavar="meta|cpu|cuda",
                        help="Where counting runs" + also + ". Counts do not depend on it; meta needs no memory "
                             "for weights, cpu or cuda run a model whose forward pass needs values (routing, "
                             "data-dependent shapes). Mixture-of-experts routing: balanced top-k on meta, the "
                             "router's own on cpu or cuda." + ("" if default else " Default: the config's, else meta."))


def _executor_options(f):
    """--executor and --ray-address, shared by zoo and measure (None: not given; a zoo file may say)."""
    f = click.option("--ray-address", metavar="auto|HOST:PORT",
                     help="The Ray cluster for --executor ray: auto (the default) joins the one running on this "
                          "machine, else starts one here.")(f)
    return click.option("--executor", type=click.Choice(["local", "ray"]),
                        help="Where the counting tasks and timing run: here, one after another (local, the "
                             "default), or over a Ray cluster (ray: pip install 'fairness[ray]').")(f)


def _template_dir_option(f):
    """--template-dir, shared by the commands that render a report."""
    return click.option("--template-dir", type=click.Path(file_okay=False), metavar="DIR",
                        help="Your own report templates: a file in DIR named as a built-in one (report.html.j2, "
                             "report.tex.j2, zoo.html.j2) replaces it, and may extend it as builtin/NAME. "
                             "Example: examples/templates/.")(f)


def _run_options(f):
    """The settings that change a speed number, shared by measure and compare (None: not given)."""
    options = [
        click.option("--channels-last", "channels_last", type=click.Choice(["auto", "true", "false"]),
                     is_flag=False, flag_value="true", default=None,
                     help="Model and 4-d inputs in channels_last memory format. auto (the default): on for "
                          "convolutional networks, as they are run for speed; recorded per model."),
        click.option("--compile", "compile_mode", is_flag=False, flag_value="default", default=None,
                     type=click.Choice(["default", "reduce-overhead", "max-autotune"]),  # runner.COMPILE_MODES
                     help="torch.compile the model (mode optional). Compile time is reported apart from timings."),
        click.option("--threads", type=int, metavar="N", help="CPU threads for torch. Default: the physical cores."),
        click.option("--train", is_flag=True, default=None,
                     help="Also time one training step (forward, backward, SGD step) and its peak memory."),
        click.option("--tf32", is_flag=True, default=None,
                     help="Allow TF32 for float32 matmuls (CUDA; off by default in torch)."),
        click.option("--precision", metavar="native|autocast|native,autocast", default=None,
                     help="How --dtype bfloat16/float16 runs inference: native (the default: weights and floating "
                          "inputs cast to the dtype, as models are deployed), autocast (float32 weights under "
                          "torch.autocast), or native,autocast (both, interleaved in one run, each with its own "
                          "paired speed-ups). Training steps always use autocast with float32 master weights."),
        click.option("--generate", metavar="PROMPT:NEW", default=None,
                     help="Also time text generation for causal LMs (hf:gpt2, hf:llama, ...) and encoder-decoders "
                          "(hf:t5: PROMPT is the encoder's input, NEW the decoder's tokens): a prefill over PROMPT "
                          "tokens (time to first token), then NEW - 1 greedy decode steps with the KV cache (time "
                          "per output token, decode tokens/s), the KV-cache bytes per token and the memory-bound "
                          "floor of a step. Example: --generate 512:128."),
        click.option("--cuda-graphs/--no-cuda-graphs", default=None,
                     help="On CUDA, also time each forward pass replayed from a CUDA graph, beside eager (on by "
                          "default): the GPU's cost without the host's kernel launches, which the judgement "
                          "uses. A model that cannot be captured keeps eager numbers, with the reason. CUDA "
                          "only: ignored, with a note, on the CPU."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@main.command(epilog=EPILOG_MEASURE)
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option("-k", "--kwarg", "kwargs", multiple=True, metavar="KEY=VALUE",
              help="Constructor argument of a single SOURCE; VALUE is a YAML scalar (6, 0.1, true, [2,2]). "
                   "Repeatable.")
@click.option("--image-size", metavar="S|H,W", help="Image input size. Default: the model's own config.")
@click.option("--seq-len", type=int, metavar="N", help="Token input length. Default: 128 for token models.")
@click.option("--inputs", "input_factory", metavar="python:MOD:FN",
              help="Input factory FN(batch_size, device) returning a tensor, tuple or dict.")
@click.option("--batch", "batch_text", default="1", show_default=True, metavar="N|N,N,...|auto",
              help="Batch sizes to time (latency is always also measured at batch 1). auto: the largest "
                   "power of two that fits (CUDA). Counts use the smallest size and are per example.")
@click.option("--device", metavar="cpu|cuda|cuda:N|meta",
              help="Where speed and memory are measured. Default: cuda if visible, else cpu. "
                   "meta: counts only.")
@_count_device_option()
@click.option("--dtype", type=click.Choice(["float32", "bfloat16", "float16"]), default="float32",
              show_default=True, help="Compute dtype for timing; bfloat16/float16 run natively (see --precision).")
@_run_options
@click.option("--min-time", "min_time", type=float, default=1.0, show_default=True, metavar="S",
              help="Each timing runs at least this long per model (and at least 10 samples); a model stops "
                   "sooner once its median is known within 0.5%.")
@click.option("--workload", "workload_examples", type=int, metavar="N",
              help="Also estimate the wall-clock time of N examples (inference) from the measured rate.")
@click.option("--workload-steps", type=int, metavar="N",
              help="With --train: estimate the wall-clock time of N training steps.")
@click.option("--no-speed", is_flag=True, help="Count only: no timing, no peak memory.")
@click.option("--no-idle", is_flag=True, help="Skip the device idle share (torch.profiler, CUDA).")
@click.option("--no-energy", is_flag=True, help="Skip energy per example (NVML, CUDA).")
@_isolate_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--detail", is_flag=True, help="Table: add the breakdown by op and by module.")
@click.option("--no-fvcore", is_flag=True, help="Skip the fvcore cross-check (a torch.jit trace on CPU).")
@click.option("--out", type=click.Path(dir_okay=False),
              help="Also write the results file (JSON) here, after every model is counted and when timing ends. "
                   "Each finished count and timing is also kept in .fairness-cache/ beside it, for --resume.")
@click.option("--resume", is_flag=True, help="Reuse the counts and timings an interrupted run with the same --out "
                                             "and settings kept; measure only the rest.")
@_executor_options
@click.option("-q", "--quiet", is_flag=True, help="No progress messages on stderr.")
@click.pass_context
def measure(ctx, sources, kwargs, image_size, seq_len, input_factory, batch_text, device, count_device, dtype,
            channels_last, compile_mode, threads, train, tf32, generate, cuda_graphs, precision, min_time, workload_examples,
            workload_steps,
            no_speed, no_idle, no_energy, isolate, fmt, detail, no_fvcore, out, resume, executor, ray_address, quiet):
    """Measure every cost indicator of one or more models (SOURCE...).

    Counts (parameters, MACs, FLOPs, activations, bytes moved) come from one
    forward pass on the meta device. Speed (throughput, latency), peak memory,
    device idle share and energy are measured on --device. Several models are
    timed in interleaved rounds and compared to the first, with 95% confidence
    intervals.
    """
    from pathlib import Path

    from . import results as results_mod
    from .cache import Cache
    from .executor import make_executor
    from .measure import Target
    from .orchestrate import measure_models_with
    from .render.judgement import judgement_text
    from .render.table import csv_text, model_table, speed_summary
    from .settings import MeasureSection
    from .sources import parse_image_size, parse_kwargs

    progress = _progress(quiet)
    if kwargs and len(sources) > 1:
        raise FairnessError("-k applies to a single SOURCE; measure models with different arguments one at a time")
    if min_time <= 0:
        raise FairnessError(f"--min-time {min_time}: expected a positive number of seconds")
    if resume and not out:
        raise FairnessError("--resume: give the --out of the interrupted run; its measurements are kept beside it")
    # every finished count and timing is kept beside --out as it is done; --resume reuses them
    cache = None
    if out:
        folder = results_mod.check_writable(Path(out).parent, f"--out {out}")
        cache = Cache(folder / ".fairness-cache", reuse=resume, progress=progress)
    device = device or _default_device()
    batches = _parse_batches(batch_text)
    speed = None
    if not no_speed and device != "meta":
        given = MeasureSection.from_cli(channels_last, compile_mode, threads, train, tf32, cuda_graphs, precision,
                                        generate=generate, dtype=dtype, batch=batches, min_time=min_time,
                                        isolate=isolate)
        speed = MeasureSection().merged(given).to_run_settings(
            device, idle=not no_idle, energy=not no_energy, workload_examples=workload_examples,
            workload_steps=workload_steps)
    count_batch = min([b for b in batches if b != "auto"], default=1)
    targets = [Target(s, kwargs=parse_kwargs(kwargs), role="proposed" if i == 0 else "baseline")
               for i, s in enumerate(sources)]
    if generate:  # bad input is refused before anything is measured
        from .indicators.generate import check_sources, parse_generate

        check_sources([(t.model, t.kwargs, t.model) for t in targets], parse_generate(generate), device)

    def save(partial):
        if out:
            results_mod.write(partial, out)

    runner = make_executor(executor or "local", ray_address or "auto")
    try:
        res = measure_models_with(runner, targets, image_size=parse_image_size(image_size) if image_size else None,
                                  seq_len=seq_len, input_factory=input_factory, batch_size=count_batch,
                                  count_device=count_device, fvcore=not no_fvcore, speed=speed, progress=progress,
                                  on_record=save, cache=cache)
    finally:
        runner.close()
    res = results_mod.as_written(res)
    if resume:
        progress(f"resumed: {cache.reused} measurements reused from {cache.folder}")
    if len(res["models"]) > 1:  # a comparison: the first model against the others
        from .judgement import attach

        save(attach(res))
    else:  # one model: its own flags (FLOPs a lower bound, noisy timings)
        from .judgement import model_notes

        res["flags"] = model_notes(res)
        save(res)
    if out:
        progress(f"results written to {out}")
    if fmt == "json":
        click.echo(results_mod.dumps(res))
    elif fmt == "csv":
        click.echo(csv_text(res), nl=False)
    else:
        click.echo("\n\n".join(model_table(m, detail=detail) for m in res["models"]))
        if speed is not None:
            click.echo("\n" + speed_summary(res))
        if "verdict" in res:
            click.echo("\n" + judgement_text(res))
        for f in res.get("flags") if "verdict" not in res else []:
            click.echo(f"\n[{f['severity']}] {f['id']}: {f['message']} {f['advice']}")
    errors = [f"{m.name}: {e}" for m in res["models"] if m.speed is not None for e in m.speed.errors or []]
    if errors:
        for e in errors:
            click.echo(f"error: {e}", err=True)
        ctx.exit(2)


EPILOG_MATCH = """\b
Examples:
  fairness match --baseline timm:vit_base_patch16_224 --params 22e6
  fairness match --baseline timm:resnet50 --match-to timm:resnet18 --indicator flops
  fairness match --baseline hf:bert --macs 5e9 --strategy compound --format json --out bert.json
  fairness match --baseline timm:convnext_tiny --throughput 12000 --batch 256 --device cuda --dtype bfloat16
  fairness match --baseline python:mypkg.models:build --family mynet.yaml --flops 2e9
  fairness match --baseline python:mypkg.moe:build --family moe.yaml --params 1e8 --count-device cpu

\b
Strategies: width (width only), depth (depth only), compound (0.2 of the FLOP change on
depth, 0.8 on width: Dollar et al. 2021), input (image size or sequence length), all.
Counts run on --count-device: meta (the default) needs no memory; cpu runs a model whose
forward pass needs values (a router's choices). Speed targets are timed on --device.
"""


@main.command(epilog=EPILOG_MATCH)
@click.option("--baseline", "baseline", required=True, metavar="SOURCE", help="The model to scale.")
@click.option("-k", "--kwarg", "kwargs", multiple=True, metavar="KEY=VALUE", help="Constructor argument of the baseline.")
@click.option("--params", type=float, metavar="N", help="Target: unique parameters.")
@click.option("--macs", type=float, metavar="N", help="Target: MACs per example.")
@click.option("--flops", type=float, metavar="N", help="Target: FLOPs per example (2 x MACs + other FLOPs).")
@click.option("--throughput", type=float, metavar="N", help="Target: samples/s at --batch on --device.")
@click.option("--latency", type=float, metavar="S", help="Target: seconds per call at batch 1 on --device.")
@click.option("--match-to", "match_to", metavar="SOURCE", help="Target: this model's value of --indicator.")
@click.option("--indicator", type=click.Choice(["params", "macs", "flops", "throughput", "latency"]),
              help="With --match-to: which indicator to match.")
@click.option("--strategy", default="all", show_default=True,
              type=click.Choice(["width", "depth", "compound", "input", "experts", "kv-heads", "all"]))
@click.option("--tolerance", type=float, metavar="R",
              help="Relative tolerance. Default: 0.01 for counts, 0.03 for speed.")
@click.option("--family", "family_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="YAML declaring the knobs of a python: factory (see examples/family.yaml).")
@click.option("--image-size", metavar="S|H,W", help="Image input size. Default: the model's own config.")
@click.option("--seq-len", type=int, metavar="N", help="Token input length. Default: 128 for token models.")
@click.option("--inputs", "input_factory", metavar="python:MOD:FN",
              help="Input factory FN(batch_size, device) returning a tensor, tuple or dict.")
@click.option("--device", metavar="cpu|cuda", help="Speed targets: where to time. Default: cuda if visible.")
@_count_device_option(also=", the search's candidates too")
@click.option("--batch", "batch_size", type=int, default=1, show_default=True,
              help="Speed targets: the batch size of --throughput.")
@click.option("--dtype", type=click.Choice(["float32", "bfloat16", "float16"]), default="float32",
              show_default=True, help="Speed targets: compute dtype (autocast).")
@click.option("--min-time", "min_time", type=float, default=1.0, show_default=True, metavar="S",
              help="Speed targets: each timing runs at least this long.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the results file (JSON) here.")
@click.option("-q", "--quiet", is_flag=True, help="No progress messages on stderr.")
def match(baseline, kwargs, params, macs, flops, throughput, latency, match_to, indicator, strategy, tolerance,
          family_file, image_size, seq_len, input_factory, device, count_device, batch_size, dtype, min_time, fmt,
          out, quiet):
    """Build variants of a baseline matched to a target on params, MACs, FLOPs or speed.

    Prints the baseline beside one variant per strategy: knob values, the -k arguments that
    rebuild it (so it can be trained), every count, and how close it came to the target.
    """
    from . import results as results_mod
    from .matching import match_variants
    from .render.table import match_table
    from .sources import InputSpec, parse_image_size, parse_kwargs

    given = {k: v for k, v in (("params", params), ("macs", macs), ("flops", flops), ("throughput", throughput),
                               ("latency", latency)) if v is not None}
    if match_to and given:
        raise FairnessError("give either a number (--params, --macs, --flops, --throughput, --latency) or "
                            "--match-to SOURCE --indicator I, not both")
    if match_to and not indicator:
        raise FairnessError("--match-to needs --indicator params|macs|flops|throughput|latency")
    if not match_to and len(given) != 1:
        raise FairnessError("give one target: --params N, --macs N, --flops N, --throughput N, --latency S, "
                            "or --match-to SOURCE --indicator I")
    if not match_to and any(v <= 0 for v in given.values()):
        raise FairnessError(f"--{next(iter(given))} {next(iter(given.values()))}: expected a positive number")
    if tolerance is not None and not 0 < tolerance < 1:
        raise FairnessError(f"--tolerance {tolerance}: expected a fraction between 0 and 1, e.g. 0.01")
    spec = InputSpec(image_size=parse_image_size(image_size) if image_size else None, seq_len=seq_len,
                     factory=input_factory)
    res = match_variants(baseline, parse_kwargs(kwargs), spec,
                         indicator=indicator if match_to else next(iter(given)),
                         target=None if match_to else next(iter(given.values())), match_to=match_to,
                         strategies=None if strategy == "all" else [strategy],
                         tolerance=tolerance, family_file=family_file, device=device or _default_device(),
                         batch_size=batch_size, dtype=dtype, min_time=min_time, count_device=count_device,
                         progress=_progress(quiet))
    res = results_mod.as_written(res)
    if out:
        results_mod.write(res, out)
    click.echo(results_mod.dumps(res) if fmt == "json" else match_table(res))


EPILOG_AUDIT = """\b
Examples:
  fairness audit examples/claims/shared_vit_fewer_params.yaml
  fairness audit claims.yaml --format md > review_comment.md
  fairness audit claims.yaml --format json --out audit.json
  fairness audit claims.yaml --no-measure        # the paper's numbers only

\b
The claims file (YAML): claim, quality, and models with name, role (proposed|baseline;
several proposed rows make a table: each is judged against every baseline), optional
source (measured when given; image_size, seq_len, decoder_seq_len), params, active_params,
applied_params, flops or macs (as printed: "4.2G", "4.1 GMACs"), throughput {value, unit,
device, batch_size, dtype}, latency {value, unit, device, batch_size}, speedup {value, over,
indicator}, matched_on and scaled_from (a baseline the paper scaled), and the quality key.
See the README's audit section for a full example.
Exit 0 whatever the verdict: the findings are the answer, not an error.
"""


@main.command(epilog=EPILOG_AUDIT)
@click.argument("claims_file", metavar="CLAIMS.yaml", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "md"]), default="table", show_default=True)
@click.option("--no-measure", is_flag=True, help="Do not measure models that name a source.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the results file (JSON) here.")
@click.option("-q", "--quiet", is_flag=True, help="No progress messages on stderr.")
def audit(claims_file, fmt, no_measure, out, quiet):
    """Check a paper's efficiency claims for unfair comparisons (CLAIMS.yaml).

    For a reviewer with only the paper: the stated numbers are checked against each
    other and, where a source is given, against fairness's own measurement. Prints
    the verdict on the comparison as made (fair, questionable, unfair, insufficient),
    and the findings with their evidence, advice and the section of "The Efficiency
    Misnomer" they rest on.
    """
    from . import results as results_mod
    from .audit import audit as run_audit
    from .render.judgement import audit_markdown, audit_text

    res = results_mod.as_written(run_audit(claims_file, measure_sources=not no_measure, progress=_progress(quiet)))
    if out:
        results_mod.write(res, out)
    if fmt == "json":
        click.echo(results_mod.dumps(res))
    elif fmt == "md":
        click.echo(audit_markdown(res))
    else:
        click.echo(audit_text(res))


EPILOG_COMPARE = """\b
Examples:
  fairness compare examples/albert_vs_bert.yaml
  fairness compare --proposed python:examples.shared_vit:shared_vit_small \\
      --baseline timm:vit_small_patch16_224 --match params,flops --no-speed
  fairness compare --proposed timm:convnext_tiny --baseline timm:resnet50 --device cuda \\
      --dtype bfloat16 --batch 1,256 --match params,flops,throughput
  fairness compare --proposed timm:vit_small_patch16_224 --proposed-kwarg depth=6 \\
      --baseline timm:vit_small_patch16_224 --baseline-kwarg embed_dim=192 --baseline-kwarg num_heads=3
  fairness compare --proposed timm:efficientnet_b4 --proposed-image-size 380 \\
      --baseline timm:resnet50 --baseline-image-size 224 --match flops --no-speed
  fairness compare examples/albert_vs_bert.yaml --baseline-kwarg num_hidden_layers=6 --seq-len 256 \\
      --count-device cpu
  fairness compare examples/paper/efficientnet_vs_resnet.yaml   # with the ResNet family's curve
  fairness compare examples/digits/compare.yaml                 # every variant trained (quality hook)

\b
A config may name a family's published members (curve:, with their quality and a citation):
they are measured beside the models, and the report says how far the proposed model sits above
or below the family's curve at equal parameters, FLOPs and speed. A quality: hook (a command or a
python function) trains and evaluates the compared models and every variant; its answers are
cached in --out. The README's "fairness compare" section documents both.

\b
Each model takes its own constructor arguments (--proposed-kwarg, --baseline-kwarg KEY=VALUE,
repeatable) and its own input (--proposed-image-size, --baseline-image-size,
--proposed-seq-len, --baseline-seq-len); a model given kwargs is named by them. With a
config, the command line wins over the file: a kwarg replaces that key of the model's kwargs
(the others are kept; the config's quality numbers, the configured model's, are dropped), a
model's own input its entry's image_size or seq_len, a shared --image-size or --seq-len the
measure: section's. A model's own input, from either, wins over the shared one. The
baseline's variants start from the baseline as given: its kwargs and its input.

\b
Writes report.html, report.tex (+ table.tex and figures as PDF/PGF), report.md,
results.csv and results.json into --out (default reports/NAME/) and prints the verdict. The config is documented in
examples/albert_vs_bert.yaml.
"""


def _model_options(role: str, kwarg_pairs: tuple, image_size: str | None, seq_len: int | None) -> dict:
    """One model's own options (--proposed-kwarg, --baseline-image-size, ...) as the keys of its
    config entry: kwargs, image_size, seq_len; only those given."""
    from .sources import parse_image_size, parse_kwargs

    if seq_len is not None and seq_len <= 0:
        raise FairnessError(f"--{role}-seq-len {seq_len}: expected a positive number of tokens, e.g. 512")
    given = {"kwargs": parse_kwargs(kwarg_pairs, f"--{role}-kwarg"), "seq_len": seq_len,
             "image_size": list(parse_image_size(image_size, f"--{role}-image-size")) if image_size else None}
    return {k: v for k, v in given.items() if v}


@main.command(epilog=EPILOG_COMPARE)
@click.argument("config", required=False, metavar="[CONFIG.yaml]", type=click.Path(dir_okay=False))
@click.option("--proposed", metavar="SOURCE", help="The proposed model (instead of a config).")
@click.option("--baseline", metavar="SOURCE", help="The baseline, whose family is scaled for matched variants.")
@click.option("--proposed-kwarg", "proposed_kwargs", multiple=True, metavar="KEY=VALUE",
              help="Constructor argument of the proposed model; VALUE is a YAML scalar (6, 0.1, true, [2,2]). "
                   "Repeatable. Wins over the config's proposed.kwargs.")
@click.option("--baseline-kwarg", "baseline_kwargs", multiple=True, metavar="KEY=VALUE",
              help="Constructor argument of the baseline, kept by its variants unless they scale that knob. "
                   "Repeatable. Wins over the config's baseline.kwargs.")
@click.option("--match", "match_text", default=None, metavar="I,I,...",
              help="Indicators to match the baseline on: params, macs, flops, throughput, latency; with "
                   "--generate also decode_throughput (tokens/s at the largest batch) and ttft. Default: the "
                   "config's, else params,flops.")
@click.option("--strategy", "strategies", multiple=True,
              type=click.Choice(["width", "depth", "compound", "input", "experts", "kv-heads"]),
              help="Strategies for the variants (repeatable). Default: the config's, else all that apply.")
@click.option("--family", "family_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="YAML declaring the knobs of a python: baseline (see examples/family.yaml). Wins over the "
                   "config's family.")
@click.option("--name", help="Name of the comparison (the output folder). Default: from the config or models.")
@click.option("--image-size", metavar="S|H,W", help="Image input size of both models. Default: the config's, "
                                                    "else each model's own config.")
@click.option("--proposed-image-size", metavar="S|H,W", help="The proposed model's own image size (EfficientNet-B4 "
                                                             "at 380 against ResNet-50 at 224).")
@click.option("--baseline-image-size", metavar="S|H,W", help="The baseline's own image size; its variants start "
                                                             "from it.")
@click.option("--seq-len", type=int, metavar="N", help="Token input length of both models. Default: the config's, "
                                                      "else 128 for token models.")
@click.option("--proposed-seq-len", type=int, metavar="N", help="The proposed model's own token input length.")
@click.option("--baseline-seq-len", type=int, metavar="N", help="The baseline's own token input length; its "
                                                                "variants start from it.")
@click.option("--inputs", "input_factory", metavar="python:MOD:FN", help="Input factory FN(batch_size, device).")
@click.option("--device", metavar="cpu|cuda", help="Where speed is measured. Default: the config's, else cuda "
                                                    "if visible, else cpu.")
@_count_device_option(default=None, also=", the variant search's candidates too")
@click.option("--no-speed", is_flag=True, help="Counts only.")
@click.option("--batch", "batch_text", default=None, metavar="N|N,N,...|auto",
              help="Batch sizes to time (latency is always also measured at batch 1). auto: the largest power "
                   "of two that fits (CUDA). Default: the config's, else 1.")
@click.option("--dtype", type=click.Choice(["float32", "bfloat16", "float16"]), default=None,
              help="Compute dtype for timing (see --precision). Default: the config's, else float32.")
@click.option("--min-time", "min_time", type=float, default=None, metavar="S",
              help="Each timing runs at least this long per model. Default: the config's, else 1.")
@_run_options
@_isolate_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder. Default: reports/NAME/.")
@click.option("--figure-style", type=click.Choice(["neurips", "iclr", "icml"]), default="neurips", show_default=True,
              help="Figure sizes and fonts for the venue's text width.")
@_template_dir_option
@click.option("--resume", is_flag=True, help="Reuse the measurements an interrupted run of the same comparison "
                                             "stored in the output folder; measure only the rest.")
@_executor_options
@click.option("-q", "--quiet", is_flag=True, help="No progress messages on stderr.")
def compare(config, proposed, baseline, proposed_kwargs, baseline_kwargs, match_text, strategies, family_file, name,
            image_size, proposed_image_size, baseline_image_size, seq_len, proposed_seq_len, baseline_seq_len,
            input_factory, device, count_device, no_speed, batch_text, dtype, min_time, channels_last, compile_mode,
            threads, train, tf32, generate, cuda_graphs, precision, isolate, out_dir, figure_style, template_dir, resume,
            executor, ray_address, quiet):
    """Compare a proposed model with a baseline and its matched variants; write the report."""
    from pathlib import Path

    from . import results as results_mod
    from .cache import Cache
    from .compare import load_config, safe_name
    from .executor import make_executor
    from .measure import check_count_device
    from .render.report import render
    from .render.templates import check_template_dir
    from .settings import MeasureSection
    from .sources import parse_image_size

    progress = _progress(quiet)
    if config and (proposed or baseline):
        raise FairnessError("give a CONFIG.yaml or --proposed/--baseline, not both")
    if not config and not (proposed and baseline):
        raise FairnessError("give a CONFIG.yaml, or both --proposed SOURCE and --baseline SOURCE")
    # checked before anything is written, so a typo costs no output folder
    models = {"proposed": _model_options("proposed", proposed_kwargs, proposed_image_size, proposed_seq_len),
              "baseline": _model_options("baseline", baseline_kwargs, baseline_image_size, baseline_seq_len)}
    size = list(parse_image_size(image_size)) if image_size else None
    if count_device:
        check_count_device(count_device)
    check_template_dir(template_dir)
    match = [m.strip() for m in match_text.split(",") if m.strip()] if match_text else None
    cfg = load_config(config) if config else {"name": None, "executor": None}
    name = name or cfg["name"] or f"{proposed.split(':')[-1]}-vs-{baseline.split(':')[-1]}"
    given_executor = cfg["executor"] or {"name": "local", "address": "auto"}
    runner = make_executor(executor or given_executor["name"], ray_address or given_executor["address"])
    folder = Path(out_dir or Path("reports") / safe_name(name))
    # every finished measurement is kept here as it is done; --resume reuses them
    results_mod.check_writable(folder, f"--out {folder}")
    cache = Cache(folder / ".fairness-cache", reuse=resume, progress=progress)
    overrides = MeasureSection.from_cli(channels_last, compile_mode, threads, train, tf32, cuda_graphs, precision,
                                        generate=generate,
                                        batch=_parse_batches(batch_text) if batch_text else None, dtype=dtype,
                                        min_time=min_time, isolate=isolate, image_size=size, seq_len=seq_len,
                                        inputs=input_factory, count_device=count_device)
    try:
        res = _run_compare(config, proposed, baseline, name, models, match, strategies, family_file, device,
                           no_speed, overrides, size, seq_len, input_factory, count_device, cache, progress, runner)
    finally:
        runner.close()
    res = results_mod.as_written(res)
    res["comparison"]["name"] = name
    if resume:
        progress(f"resumed: {cache.reused} measurements reused from {cache.folder}")
    results_mod.write(res, folder / "results.json")  # first: the measurements are never lost to a renderer
    progress("rendering the report")
    render(res, folder, style=figure_style, template_dir=template_dir)
    _summary(res, folder)


def _run_compare(config, proposed, baseline, name, models, match, strategies, family_file, device, no_speed,
                 overrides, size, seq_len, input_factory, count_device, cache, progress, executor) -> dict:
    """compare from a config file, or from --proposed and --baseline."""
    from .compare import compare as run_compare, compare_config, with_kwargs
    from .settings import MeasureSection

    if config:
        return compare_config(config, device=device, no_speed=no_speed, overrides=overrides, models=models,
                              match=match, strategies=list(strategies) or None, family_file=family_file,
                              cache=cache, progress=progress, executor=executor)
    speed = None if no_speed else MeasureSection().merged(overrides).to_run_settings(
        device or _default_device())
    p, b = models["proposed"], models["baseline"]
    return run_compare(proposed, baseline, name=name, match=match or ["params", "flops"],
                       strategies=list(strategies) or None,
                       # named by their kwargs: one source at other arguments is two names
                       proposed_name=with_kwargs(proposed, p["kwargs"]) if "kwargs" in p else None,
                       baseline_name=with_kwargs(baseline, b["kwargs"]) if "kwargs" in b else None,
                       proposed_kwargs=p.get("kwargs"), baseline_kwargs=b.get("kwargs"),
                       image_size=tuple(size) if size else None, seq_len=seq_len, input_factory=input_factory,
                       proposed_input={k: v for k, v in p.items() if k != "kwargs"},
                       baseline_input={k: v for k, v in b.items() if k != "kwargs"},
                       family_file=family_file, count_device=count_device or "meta", speed=speed, cache=cache,
                       progress=progress, executor=executor)


def _summary(res: dict, folder) -> None:
    """The verdict, the kinds of flag, the failures and where the report is; exit 3 when some
    models failed (the others and the report are complete)."""
    from .render.judgement import judgement_text

    click.echo(judgement_text(res).split("\n\n")[0])
    for f in res["judgement"]["findings"]:
        click.echo(f"  [{f['severity']}] {f['id']}" + ("" if f["scope"] == "principal" else " (matched variants)"))
    click.echo(f"report: {folder / 'report.html'}  (also report.md, report.tex, table.tex, figures, "
               f"results.json, results.csv)")
    from .results import failures

    failed = [f"{name}: {why}" for name, why in failures(res)]
    for line in failed:
        click.echo(f"failed: {line}", err=True)
    if failed:
        click.get_current_context().exit(EXIT_SOME_FAILED)


@main.command(epilog="""\b
Examples:
  fairness zoo examples/zoo/imagenet.yaml --device cuda
  fairness zoo examples/zoo/imagenet.yaml --no-speed                    # counts only: params, MACs, FLOPs
  fairness zoo results-imagenet.csv --quality top1 --reference resnet50.a1_in1k --no-speed

\b
MODELS.yaml lists the models (name, source, kwargs, quality, cite; image_size or seq_len
of its own) with `quality: NAME` (the number the fronts use), `reference: NAME` (timed in
every group; default: the first model), `group_size` (default 8) and a measure: section as
compare's. A CSV with a `model` column (a source, or a timm model name) and quality columns
(top1, top5, ...) is read as well: timm's results tables are. Quality is never measured or
downloaded. Writes report.html, report.md, table.tex, fig_fronts.pdf, fig_agreement.pdf,
results.csv and results.json into --out (default reports/NAME/).
""")
@click.argument("zoo_file", metavar="MODELS.yaml|MODELS.csv", type=click.Path(dir_okay=False))
@click.option("--quality", metavar="NAME", help="The quality number the fronts use. Default: the file's, or the "
                                                "only one given.")
@click.option("--reference", metavar="NAME", help="The model every timing group includes. Default: the file's, "
                                                  "else the first model.")
@click.option("--device", metavar="cpu|cuda", help="Where speed is measured. Default: the file's, else cuda if "
                                                   "visible, else cpu.")
@_count_device_option(None)
@click.option("--no-speed", is_flag=True, help="Counts only.")
@click.option("--batch", "batch_text", metavar="N|N,N,...|auto", help="Batch sizes to time (latency is always "
                                                                       "also measured at batch 1).")
@click.option("--dtype", type=click.Choice(["float32", "bfloat16", "float16"]), help="Compute dtype for timing.")
@click.option("--min-time", type=float, metavar="S",
              help="Each timing runs at least this long per model; a model stops sooner once its median is known "
                   "within 0.5%.")
@_run_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder. Default: reports/NAME/.")
@click.option("--figure-style", type=click.Choice(["neurips", "iclr", "icml"]), default="neurips", show_default=True)
@_template_dir_option
@click.option("--resume", is_flag=True, help="Reuse the counts and timings an interrupted run with the same --out "
                                             "and settings kept; measure only the rest.")
@_executor_options
@click.option("-q", "--quiet", is_flag=True, help="No progress messages on stderr.")
def zoo(zoo_file, quality, reference, device, count_device, no_speed, batch_text, dtype, min_time, channels_last,
        compile_mode, threads, train, tf32, generate, cuda_graphs, precision, out_dir, figure_style, template_dir, resume,
        executor, ray_address, quiet):
    """Many models: the Pareto front of quality against each cost indicator, and where they disagree.

    Every model is counted on meta and timed in interleaved groups that all include the
    reference, so speed-ups compare across groups. For each indicator (params, MACs, FLOPs,
    throughput, latency, peak memory) the report draws the front, gives the rank agreement of
    every pair of indicators (Kendall's tau-b), and names the models that are on one front but
    dominated on another, and by which model.
    """
    from pathlib import Path

    from . import results as results_mod
    from .cache import Cache
    from .compare import safe_name
    from .render.templates import check_template_dir
    from .render.zoo import render_zoo
    from .settings import MeasureSection
    from .zoo import load_zoo, run_zoo

    progress = _progress(quiet)
    if count_device:
        from .measure import check_count_device

        check_count_device(count_device)
    spec = load_zoo(zoo_file, quality, reference)  # checked before anything is written
    check_template_dir(template_dir)
    if (executor or (spec["executor"] or {}).get("name")) == "ray":
        from .executor import require_ray

        require_ray()  # before anything is written
    name, device = spec["name"], device or spec["measure"].device or _default_device()
    folder = Path(out_dir or Path("reports") / safe_name(name))
    results_mod.check_writable(folder, f"--out {folder}")
    cache = Cache(folder / ".fairness-cache", reuse=resume, progress=progress)
    overrides = MeasureSection.from_cli(channels_last, compile_mode, threads, train, tf32, cuda_graphs, precision,
                                        generate=generate,
                                        batch=_parse_batches(batch_text) if batch_text else None, dtype=dtype,
                                        min_time=min_time, count_device=count_device)
    res = run_zoo(zoo_file, device=device, no_speed=no_speed, overrides=overrides, quality=quality,
                  reference=reference, cache=cache, progress=progress,
                  on_record=lambda partial: results_mod.write(partial, folder / "results.json"),
                  executor=executor, ray_address=ray_address)
    res = results_mod.as_written(res)
    if resume:
        progress(f"resumed: {cache.reused} measurements reused from {cache.folder}")
    results_mod.write(res, folder / "results.json")  # first: the measurements are never lost to a renderer
    progress("rendering the report")
    render_zoo(res, folder, style=figure_style, template_dir=template_dir)
    from .render.zoo import summary

    for line in summary(res):
        click.echo(line)
    click.echo(f"report: {folder / 'report.html'}  (also report.md, table.tex, figures, results.json, results.csv)")
    failed = [m for m in res["models"] if m.failed]
    if failed:
        click.echo(f"{len(failed)} model(s) failed: " + "; ".join(f"{m.name}: {m.failed}" for m in failed),
                   err=True)
        raise SystemExit(3)


@main.command(epilog="""\b
Examples:
  fairness zoo zoo.yaml --device cuda --dtype bfloat16 --out runs/cuda-bf16
  fairness zoo zoo.yaml --device cpu --dtype float32 --out runs/cpu-fp32
  fairness merge runs/cuda-bf16/results.json runs/cpu-fp32/results.json --out reports/zoo-targets

\b
Each results file is one target (device, dtype, batch, eager or compiled, threads: read from
the file). Models are matched by source, kwargs and input, not by name; a model whose counts
differ between files is refused (exit 2); one in some files only is listed as missing. Writes
report.html, report.md, table.tex, results.csv and results.json into --out.
""")
@click.argument("files", metavar="RESULTS.json...", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder. Default: reports/NAME/.")
@click.option("--name", default="merge", show_default=True, help="The report's title and default folder name.")
@_template_dir_option
def merge(files, out_dir, name, template_dir):
    """The same models measured on several targets, one column per target.

    Counts are checked to agree; speeds and peak memory get a column per target. For every pair
    of targets, Kendall's tau-b between the rankings by throughput and by latency; where some
    pair of models swaps order, a hardware-mismatch finding names it.
    """
    from pathlib import Path

    from . import results as results_mod
    from .compare import safe_name
    from .merge import load_merge
    from .render.merge import render_merge, summary

    res = load_merge(list(files), name)  # checked before anything is written
    folder = results_mod.check_writable(Path(out_dir or Path("reports") / safe_name(name)), "--out")
    render_merge(res, folder, template_dir)
    for line in summary(res):
        click.echo(line)
    click.echo(f"report: {folder / 'report.html'}  (also report.md, table.tex, results.json, results.csv)")


@main.command(epilog="""\b
Examples:
  fairness render reports/albert-vs-bert/results.json
  fairness render results.json --format tex --figure-style icml --out camera-ready/
  fairness render results.json --format html,md --out /tmp/review
""")
@click.argument("results_file", metavar="RESULTS.json", type=click.Path(dir_okay=False))
@click.option("--format", "formats", default="html,tex,md,csv,json", show_default=True, metavar="F,F,...",
              help="Any of html, tex, md, csv, json.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder. Default: the results "
                                                                        "file's folder.")
@click.option("--figure-style", type=click.Choice(["neurips", "iclr", "icml"]), default="neurips", show_default=True)
@_template_dir_option
def render(results_file, formats, out_dir, figure_style, template_dir):
    """Re-render a results file without measuring: the camera-ready loop.

    A zoo's or a merge's results.json gets its own report, in every format (--format is for a
    comparison's)."""
    from pathlib import Path

    from .render.report import load_for_render, render as run_render

    from .results import load

    folder = Path(out_dir) if out_dir else Path(results_file).parent
    raw = load(results_file)
    if "zoo" in raw or "merge" in raw:  # a zoo's or a merge's results: their own report, every format
        from .render.merge import render_merge
        from .render.zoo import render_zoo

        from .zoo import reanalysed

        written = (render_zoo(reanalysed(raw), folder, style=figure_style, template_dir=template_dir) if "zoo" in raw
                   else render_merge(raw, folder, template_dir))
    else:
        written = run_render(load_for_render(results_file), folder,
                             formats=[f.strip() for f in formats.split(",") if f.strip()], style=figure_style,
                             template_dir=template_dir)
    for path in written:
        click.echo(str(path))


@main.command(epilog="""\b
Examples:
  fairness gallery examples/albert_vs_bert.yaml examples/paper/*.yaml examples/zoo/imagenet.yaml
  fairness gallery examples/paper/vit_patch.yaml --out /tmp/gallery --figure-style icml
""")
@click.argument("configs", metavar="CONFIG.yaml...", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", default="reports", show_default=True, type=click.Path(file_okay=False),
              help="The gallery folder: each config's report is in OUT/NAME/.")
@click.option("--figure-style", type=click.Choice(["neurips", "iclr", "icml"]), default="neurips", show_default=True)
@_template_dir_option
def gallery(configs, out_dir, figure_style, template_dir):
    """Re-render each config's report from its results file and index them in OUT/README.md.

    One line per config: the pair, the verdict and its findings, links to the report; a config
    not run yet gets the command that runs it. Each report also gets report.pdf, compiled by
    pdflatex where it is installed. Nothing is measured.
    """
    from .render.gallery import gallery as run_gallery

    click.echo(str(run_gallery(list(configs), out_dir, figure_style, template_dir,
                               say=lambda line: click.echo(line, err=True))))


@main.command(epilog="""\b
Examples:
  fairness demo
  fairness demo --out /tmp/demo --device cpu
""")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder. Default: reports/demo/.")
@click.option("--device", metavar="cpu|cuda", help="Where speed is measured. Default: cuda if visible, else cpu.")
@_template_dir_option
@click.option("-q", "--quiet", is_flag=True, help="No progress messages on stderr.")
def demo(out_dir, device, template_dir, quiet):
    """The main job on a built-in default: a parameter-shared ViT-Ti against timm's ViT-Ti/16.

    Matched on parameters, FLOPs and throughput; every indicator measured; the flags, the
    verdict and the full report (HTML, LaTeX, Markdown, CSV, JSON) written. A few minutes on
    a 2-core CPU, no download.
    """
    from pathlib import Path

    from . import results as results_mod
    from .demo import run_demo
    from .render.report import render as run_render
    from .render.templates import check_template_dir

    progress = _progress(quiet)
    check_template_dir(template_dir)  # before the minute of measuring
    res = results_mod.as_written(run_demo(device, progress))
    folder = Path(out_dir or "reports/demo")
    results_mod.write(res, folder / "results.json")
    progress("rendering the report")
    run_render(res, folder, template_dir=template_dir)
    _summary(res, folder)


if __name__ == "__main__":
    main()
