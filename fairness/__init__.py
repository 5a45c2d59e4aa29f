"""fairness: fair comparisons of machine-learning models.

    >>> import fairness
    >>> record = fairness.measure("timm:resnet50")                          # a source string
    >>> record = fairness.measure(my_module, torch.randn(1, 3, 224, 224))   # or an object
    >>> results = fairness.compare(my_module, "timm:vit_small_patch16_224", match=["params", "flops"])
    >>> results = fairness.compare(my_module, resnet, baseline_source="timm:resnet18")  # a built baseline
    >>> fairness.render(results, "reports/mine")                            # html, tex, md, csv, json

`fairness.compare` and `fairness.render` are functions here; their modules are
`fairness.compare` (config loading) and `fairness.render.*` (one per format), reached
with `from fairness.compare import load_config` or `from fairness.render.escape import tex`.
"""

from .errors import FairnessError, ModelFailed
from .version import __version__  # noqa: F401
from .measure import measure
from .compare import compare  # noqa: E402  (the function shadows its module's name on purpose)
from .render.report import render  # noqa: E402

__all__ = ["measure", "compare", "render", "FairnessError", "ModelFailed"]
