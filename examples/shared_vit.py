"""An example proposed model: a Vision Transformer whose blocks share their parameters,
Universal-Transformer style (Dehghani et al. 2019). One block is applied `depth` times,
so its unique parameters are about a twelfth of a ViT's while its FLOPs stay the same:
the case "The Efficiency Misnomer" warns about when models are compared at equal
parameters. The model itself lives in the package (fairness/demo.py, which `fairness
demo` runs); this file is how a user's own model is named:

    fairness measure python:examples.shared_vit:shared_vit_base
    fairness compare --proposed python:examples.shared_vit:shared_vit_small \\
        --baseline timm:vit_small_patch16_224 --match params,flops --no-speed
"""

from fairness.demo import shared_vit, shared_vit_base, shared_vit_small, shared_vit_tiny

__all__ = ["shared_vit", "shared_vit_base", "shared_vit_small", "shared_vit_tiny"]
