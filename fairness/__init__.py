"""fairness: fair comparisons of machine-learning models.

    >>> import fairness
    >>> record = fairness.measure("timm:resnet50")          # a source string
    >>> record = fairness.measure(my_module, torch.randn(1, 3, 224, 224))  # or an object
"""

from .errors import FairnessError
from .measure import measure

__all__ = ["measure", "FairnessError"]
__version__ = "0.1.0"
