"""Why fairness's dynamic-cache decode and a plain `generate` disagree by up to 25% (issue 26).

fairness's dynamic cache is transformers' `generate` itself, each step stamped by a logits
processor (indicators/generate.py, `_generate_run`); gpu_generate.py's twin is a plain
`generate(128)` minus `generate(1)`. In one process their decode read 0.97-1.26x apart, in
either direction, from run to run, fairness mostly the faster (benchmarks/RESULTS.md). Those runs
stamped each step with a synchronize and the host's clock; the suspect is that synchronize, which
changes how the host waits, and so the pace of a decode that is the host's. fairness now stamps
with CUDA events, which do not wait. This times, for GPT-2 124M (bf16, prompt 512, 128 new tokens)
at batch 1 and 64, in rounds that alternate A B C, B C A, ...:
  A  plain:   (generate(128) - generate(1)) / 127, on the host's clock;
  B  synchronized stamps (the earlier way): the same two calls, each step stamped by a logits
     processor that synchronizes and reads the clock: the same wall difference / 127;
  C  fairness: `_generate_run`'s own mean step, from event to event (its median step beside it);
each a median over ROUNDS rounds, in ms per step. B against A says what a synchronized stamp
changes; C against A is the check that fairness's dynamic cache reads what generate does. All of
it twice: in a fresh process, then after a CUDA graph of the static cache is captured, as
gpu_generate.py does first (whose plain generate read up to 1.27x slower than fairness's where this
script's read the same, benchmarks/RESULTS.md).

    python benchmarks/gpu_generate_host.py      # needs a CUDA device and transformers; about two minutes
"""

import statistics
import time
import warnings

import torch
import transformers
from transformers import LogitsProcessor, LogitsProcessorList

from fairness.indicators.generate import _generate_run

from gpu_generate import _generate_s, _graph_matches_eager  # the same generate call, the dynamic cache

warnings.filterwarnings("ignore")
PROMPT, NEW, ROUNDS = 512, 128, 5


class Stamp(LogitsProcessor):  # fairness's before its events: a synchronize and a clock read a step
    def __call__(self, input_ids, scores):
        torch.cuda.synchronize()
        time.perf_counter()
        return scores


def main():
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, transformers "
          f"{transformers.__version__}, GPT-2 124M, bf16, prompt {PROMPT}, {NEW} new tokens, {ROUNDS} rounds\n")
    model = transformers.AutoModelForCausalLM.from_config(transformers.AutoConfig.for_model("gpt2"))
    model = model.to("cuda", torch.bfloat16).eval()
    print(f"{'batch':>5} {'A plain ms':>11} {'B stamped ms':>13} {'C fairness mean':>16} {'C median':>9} "
          f"{'B/A':>6} {'C/A':>6}  when")
    # gpu_generate.py captures a CUDA graph of the static cache before it times anything: the second
    # pass asks whether that capture changes plain generate's pace, and not fairness's
    for when in ("fresh", "after a capture"):
        if when != "fresh":
            _graph_matches_eager(model, model.config.vocab_size)
        _rounds(model, when)


def _rounds(model, when: str) -> None:
    """A, B and C at batch 1 and 64, ROUNDS rounds each in rotating order; one table row a batch."""
    for batch in (1, 64):
        ids = torch.randint(1, model.config.vocab_size, (batch, PROMPT), device="cuda")
        measures = {
            "A": lambda: (_generate_s(model, ids, NEW, None) - _generate_s(model, ids, 1, None)) / (NEW - 1),
            "B": lambda: (_generate_s(model, ids, NEW, None, LogitsProcessorList([Stamp()]))
                          - _generate_s(model, ids, 1, None, LogitsProcessorList([Stamp()]))) / (NEW - 1),
            "C": lambda: _generate_run(model, ids, NEW - 1, "cuda")[1],
        }
        got = {k: [] for k in measures}
        medians = []
        with torch.inference_mode():
            _generate_s(model, ids[:, :8], 4, None)  # warm-up
            for r in range(ROUNDS):
                order = "ABC"[r % 3:] + "ABC"[:r % 3]
                for k in order:
                    x = measures[k]()
                    if k == "C":
                        medians.append(statistics.median(x))
                        x = sum(x) / len(x)
                    got[k].append(x)
        a, b, c = (statistics.median(got[k]) * 1e3 for k in "ABC")
        print(f"{batch:>5} {a:11.3f} {b:13.3f} {c:16.3f} {statistics.median(medians) * 1e3:9.3f} "
              f"{b / a:6.3f} {c / a:6.3f}  {when}", flush=True)


if __name__ == "__main__":
    main()
