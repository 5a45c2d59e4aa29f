"""The `fairness` command. Thin: parse, call the library, print."""

from __future__ import annotations

import sys
import time
import traceback

import click

from .errors import FairnessError

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
no download), python:package.module:factory. Weights are never downloaded.
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
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fairness")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def main(ctx, debug):
    """fairness: fair comparisons of machine-learning models.

    Measures every cost indicator (parameters in all their senses, MACs and
    FLOPs, activations, bytes moved) so that a comparison on one of them
    cannot hide a loss on another ("The Efficiency Misnomer", Dehghani et
    al., ICLR 2022).
    """
    ctx.meta["debug"] = debug


def _progress(quiet: bool):
    start = time.perf_counter()

    def report(message: str) -> None:
        if not quiet:
            click.echo(f"[{time.perf_counter() - start:6.1f}s] {message}", err=True)

    return report


def _check_device(device: str) -> str:
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise FairnessError(f"--device {device}: no CUDA device is visible (torch.cuda.is_available() "
                            f"is False); use --device cpu or --device meta")
    return device


@main.command(epilog=EPILOG_MEASURE)
@click.argument("source")
@click.option("-k", "--kwarg", "kwargs", multiple=True, metavar="KEY=VALUE",
              help="Constructor argument; VALUE is a YAML scalar (6, 0.1, true, [2,2]). Repeatable.")
@click.option("--image-size", metavar="S|H,W", help="Image input size. Default: the model's own config.")
@click.option("--seq-len", type=int, metavar="N", help="Token input length. Default: 128 for token models.")
@click.option("--inputs", "input_factory", metavar="python:MOD:FN",
              help="Input factory FN(batch_size, device) returning a tensor, tuple or dict.")
@click.option("--batch", "batch_size", type=int, default=1, show_default=True,
              help="Batch size of the counted forward pass (counts are divided per example).")
@click.option("--device", default="meta", show_default=True, metavar="meta|cpu|cuda",
              help="Where the model runs. Counts do not depend on it; meta needs no memory for weights.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--detail", is_flag=True, help="Table: add the breakdown by op and by module.")
@click.option("--no-fvcore", is_flag=True, help="Skip the fvcore cross-check (a torch.jit trace on CPU).")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the results file (JSON) here.")
@click.option("-q", "--quiet", is_flag=True, help="No progress messages on stderr.")
def measure(source, kwargs, image_size, seq_len, input_factory, batch_size, device, fmt, detail, no_fvcore,
            out, quiet):
    """Count the cost indicators of one model (SOURCE)."""
    from . import results as results_mod
    from .measure import measure as run_measure
    from .render.table import csv_text, model_table
    from .sources import parse_image_size, parse_kwargs

    progress = _progress(quiet)
    record = run_measure(
        source,
        kwargs=parse_kwargs(kwargs),
        image_size=parse_image_size(image_size) if image_size else None,
        seq_len=seq_len,
        input_factory=input_factory,
        batch_size=batch_size,
        device=_check_device(device),
        fvcore=not no_fvcore,
        progress=progress,
    )
    res = results_mod.to_plain(results_mod.new_results([record], results_mod.environment(device)))
    if out:
        path = results_mod.write(res, out)
        progress(f"results written to {path}")
    if fmt == "json":
        click.echo(results_mod.dumps(res))
    elif fmt == "csv":
        click.echo(csv_text(res), nl=False)
    else:
        click.echo(model_table(res["models"][0], detail=detail))


if __name__ == "__main__":
    main()
