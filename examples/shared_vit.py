"""An example proposed model: a Vision Transformer whose blocks share their parameters,
Universal-Transformer style (Dehghani et al. 2019). One block is applied `depth` times,
so its unique parameters are about a twelfth of a ViT's while its FLOPs stay the same:
the case "The Efficiency Misnomer" warns about when models are compared at equal
parameters.

    fairness measure python:examples.shared_vit:shared_vit_base
"""

import timm
from torch import nn


def shared_vit(depth: int = 12, embed_dim: int = 768, num_heads: int = 12, patch_size: int = 16,
               img_size: int = 224, **kwargs) -> nn.Module:
    """timm's VisionTransformer with every block replaced by the first one (shared weights)."""
    model = timm.create_model("vit_base_patch16_224", pretrained=False, depth=depth, embed_dim=embed_dim,
                              num_heads=num_heads, patch_size=patch_size, img_size=img_size, **kwargs)
    block = model.blocks[0]
    model.blocks = nn.Sequential(*([block] * depth))
    return model


def shared_vit_base(**kwargs) -> nn.Module:
    return shared_vit(**kwargs)


def shared_vit_small(**kwargs) -> nn.Module:
    return shared_vit(**{"embed_dim": 384, "num_heads": 6, **kwargs})
