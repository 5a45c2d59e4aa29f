"""The plain loop's CUDA graph capture, shared by the benchmarks that time fairness against it
(gpu_latency_reference.py, gpu_latency_state.py, gpu_precision.py, gpu_power_settle.py).

It is written apart from fairness's own capture (step.py) on purpose: the reference a timing is
checked against should not share that timing's code. Run the scripts from the repository root
(`python benchmarks/NAME.py`): Python puts benchmarks/ on the path, so `from plain_loop import
capture` finds this file.
"""

import torch


def capture(model, x) -> torch.cuda.CUDAGraph:
    """One forward pass of `model` on `x` captured in a CUDA graph, after three warm-up calls on a
    side stream (as PyTorch's CUDA graph notes ask); no replay yet."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side), torch.no_grad():
        for _ in range(3):
            model(x)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), torch.no_grad():
        model(x)
    return graph
