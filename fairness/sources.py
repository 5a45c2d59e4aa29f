"""Model sources and their example inputs.

A source is what a user names: `timm:NAME`, `torchvision:NAME`,
`hf:MODEL_TYPE`, `hf-base:MODEL_TYPE` or `python:package.module:factory`, plus keyword arguments
for the constructor. `build` makes the model on any device (meta included)
and never downloads weights. `make_inputs` makes the example inputs the
model expects: images, token ids, or whatever a user's input factory returns.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import linecache
import os
import re
import sys
import traceback
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import torch
import yaml

from .errors import FairnessError

PREFIXES = ("timm", "torchvision", "hf", "hf-base", "python")
DEFAULT_SEQ_LEN = 128  # stated with every result; BERT's fine-tuning length


@dataclass(frozen=True)
class Source:
    """A model named by a user: `kind:name` and constructor kwargs."""

    kind: str
    name: str
    kwargs: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return f"{self.kind}:{self.name}"


def parse_source(text: str, kwargs: dict | None = None) -> Source:
    kind, sep, name = text.partition(":")
    if not sep or kind not in PREFIXES or not name:
        raise FairnessError(
            f"model source {text!r}: expected PREFIX:NAME with PREFIX one of {', '.join(PREFIXES)} "
            f"(e.g. timm:resnet50, torchvision:resnet18, hf:bert, python:mypkg.models:build)")
    return Source(kind, name, dict(kwargs or {}))


def parse_kwargs(pairs: tuple[str, ...] | list[str], option: str = "-k") -> dict:
    """`KEY=VALUE` strings to a dict; values are YAML scalars (6, 0.1, true, [2, 2], null).
    `option` names the command-line option they came from, in errors."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise FairnessError(f"model argument {option} {pair!r}: expected KEY=VALUE, e.g. {option} depth=6 "
                                f"{option} embed_dim=384")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError as e:
            raise FairnessError(f"model argument {option} {pair!r}: the value is not a YAML scalar ({e.problem}); "
                                f"quote strings, e.g. {option} act_layer=gelu") from None
    return out


def did_you_mean(name: str, candidates: list[str], what: str) -> FairnessError:
    close = difflib.get_close_matches(name, candidates, n=5, cutoff=0.6)
    if not close:  # a fragment of a long name: 'vit_b' -> vit_base_patch16_224, ...
        close = [c for c in candidates if name.lower() in c.lower()][:5]
    hint = f"; closest: {', '.join(close)}" if close else f"; {len(candidates)} are known, none close"
    return FairnessError(f"unknown {what} {name!r}{hint}")


# --- building -------------------------------------------------------------------


def check_known(src: Source) -> None:
    """A timm or torchvision name that its library does not know, found without building (hf
    and python sources are checked as they are built)."""
    if src.kind == "timm":
        import timm

        if src.name.startswith(("hf-hub:", "hf_hub:", "local-dir:")):
            raise FairnessError(f"timm:{src.name}: hub and local-dir models load weights; "
                                f"name an architecture (e.g. timm:vit_base_patch16_224)")
        if not timm.is_model(src.name):
            raise did_you_mean(src.name, timm.list_models(), "timm model")
    elif src.kind == "torchvision":
        import torchvision

        names = torchvision.models.list_models()
        if src.name not in names:
            raise did_you_mean(src.name, names, "torchvision model")


def _build_timm(src: Source) -> torch.nn.Module:
    import timm

    check_known(src)
    return timm.create_model(src.name, pretrained=False, **src.kwargs)


def _build_torchvision(src: Source) -> torch.nn.Module:
    import torchvision

    check_known(src)
    return torchvision.models.get_model(src.name, weights=None, **src.kwargs)


def _hf_auto_classes():
    from transformers import CONFIG_MAPPING

    return CONFIG_MAPPING


def _build_hf(src: Source) -> torch.nn.Module:
    config = _hf_config(src)
    return _hf_auto_class(config, head=src.kind == "hf").from_config(config)


def _hf_auto_class(config, head: bool):
    """The Auto class that builds a transformers config as it generates text (`head`), or bare.
    A language model computes its output head at every position: GPT-2's is 31% of its MACs at
    128 tokens, and a vocabulary's size is half of what a comparison of two vocabularies is about
    (issue 31). So decoder-only types build their causal LM (GPT-2, Llama, Mistral, Mixtral) and
    encoder-decoders their text or speech generator (T5, Switch, BART, Whisper). Encoders (BERT,
    ALBERT, DeBERTa: types that also have a masked LM) and vision or multimodal models stay bare:
    they have no one head, and their papers count the body. `hf-base:` builds every type bare."""
    import transformers
    from transformers.models.auto import modeling_auto as auto

    kind = config.model_type
    if head and getattr(config, "is_encoder_decoder", False):
        if kind in auto.MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES:
            return transformers.AutoModelForSeq2SeqLM
        if kind in auto.MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES:
            return transformers.AutoModelForSpeechSeq2Seq
    elif head and kind in auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and kind not in auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return transformers.AutoModelForCausalLM
    return transformers.AutoModel


def _hf_config(src: Source):
    try:
        from transformers import AutoConfig
    except ImportError:
        raise FairnessError(f"{src.text} needs transformers: pip install 'fairness[hf]'") from None
    mapping = _hf_auto_classes()
    if src.name not in mapping:
        raise did_you_mean(src.name, list(mapping.keys()), "transformers model type")
    # transformers' configs accept any keyword silently; a misspelt one would build the
    # default model without a word, so unknown keys are refused here.
    config_class = mapping[src.name]
    known = set(config_class().to_dict()) | set(getattr(config_class, "attribute_map", {}))
    known |= set(inspect.signature(config_class.__init__).parameters) | _keys_the_model_reads(config_class)
    for key in src.kwargs:
        if key not in known:
            raise did_you_mean(key, sorted(known), f"{config_class.__name__} argument for {src.text}")
    try:
        return AutoConfig.for_model(src.name, **src.kwargs)
    except (TypeError, ValueError) as e:
        raise FairnessError(f"{src.text}: config rejected the arguments {src.kwargs}: {e}") from None


def _keys_the_model_reads(config_class) -> set[str]:
    """The config keys the model's own code reads (`config.x`, `getattr(config, "x", ...)`): a
    config class takes some through **kwargs only (DeBERTa-v2's position_buckets, norm_rel_ebd,
    share_att_key), and a user who gives one means it (issue 31)."""
    from transformers import AutoModel

    try:
        module = sys.modules[AutoModel._model_mapping[config_class].__module__]
        text = inspect.getsource(module)
    except (KeyError, OSError, TypeError):
        return set()
    return set(re.findall(r"config\.(\w+)", text)) | set(
        re.findall(r"getattr\(\s*(?:self\.)?config\s*,\s*[\"'](\w+)", text))


def import_attr(path: str, what: str) -> Any:
    module_name, sep, attr = path.rpartition(":")
    if not sep or not module_name or not attr:
        raise FairnessError(f"{what} {path!r}: expected package.module:function, e.g. python:mypkg.models:build")
    # The current directory is searched first, as `python -m` does: a console script's
    # sys.path starts at its own bin/ folder, where no user's module lives.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise FairnessError(f"{what} {path!r}: cannot import {module_name!r} ({e}); "
                            f"check the name and that its folder is on PYTHONPATH") from None
    except Exception as e:  # the user's module raised while importing
        raise FairnessError(f"{what} {path!r}: importing {module_name!r} failed: {type(e).__name__}: {e}") from None
    if not hasattr(module, attr):
        public = [n for n in dir(module) if not n.startswith("_")]
        raise did_you_mean(attr, public, f"name in {module_name}")
    return getattr(module, attr)


def _build_python(src: Source) -> torch.nn.Module:
    factory = import_attr(src.name, "model source python:")
    if not callable(factory):
        raise FairnessError(f"python:{src.name} is not callable; name a function or class returning an nn.Module")
    model = factory(**src.kwargs)
    if not isinstance(model, torch.nn.Module):
        raise FairnessError(f"python:{src.name} returned {type(model).__name__}, expected a torch.nn.Module")
    return model


_BUILDERS: dict[str, Callable[[Source], torch.nn.Module]] = {
    "timm": _build_timm,
    "torchvision": _build_torchvision,
    "hf": _build_hf,
    "hf-base": _build_hf,
    "python": _build_python,
}


def build(src: Source, device: str | torch.device = "meta") -> torch.nn.Module:
    """Build the model of `src` on `device`, in eval mode, with random (or no) weights."""
    try:
        try:
            with torch.device(device):
                model = _BUILDERS[src.kind](src)
        except NotImplementedError as e:
            # A constructor that computes with tensors (timm <= 1.0.29's RegNet generator calls
            # torch.unique) cannot run on meta; built on the CPU and moved, its counts are the same.
            if str(device) != "meta" or "Meta" not in str(e):
                raise
            with torch.device("cpu"):
                model = _BUILDERS[src.kind](src).to("meta")
    except FairnessError:
        raise
    except TypeError as e:
        raise FairnessError(f"{src.text}: the constructor rejected the arguments {src.kwargs}: {e}") from None
    except Exception as e:
        args = f" with {src.kwargs}" if src.kwargs else ""
        raise FairnessError(f"{src.text}: building the model{args} failed: {type(e).__name__}: "
                            f"{str(e).strip() or _where(e)}") from None
    return model.eval()


def _where(e: BaseException) -> str:
    """Where an exception without a message was raised: the file, line and source of its last
    frame (a bare `assert` in a constructor says nothing else)."""
    frames = traceback.extract_tb(e.__traceback__)
    if not frames:
        return "(no message)"
    f = frames[-1]
    line = (f.line or linecache.getline(f.filename, f.lineno)).strip()
    return f"(no message) at {os.path.basename(f.filename)}:{f.lineno}: {line}"


# --- inputs ----------------------------------------------------------------------


@dataclass(frozen=True)
class InputSpec:
    """What to feed a model. Leave everything None to use the model's own default."""

    image_size: tuple[int, int] | None = None
    seq_len: int | None = None
    factory: str | None = None  # python:package.module:function(batch_size, device) -> inputs
    # Encoder-decoder models only: decoder tokens. None: as many as the encoder's seq_len.
    # Papers often count fewer (T5's FLOPs: 512 encoder, 114 decoder tokens).
    decoder_seq_len: int | None = None


def with_own_input(spec: InputSpec, given: dict | None) -> InputSpec:
    """The group's input spec with a model's own image_size (S or [H, W]) or seq_len."""
    if not given:
        return spec
    size = given.get("image_size")
    size = (size, size) if isinstance(size, int) else tuple(size) if size else spec.image_size
    return replace(spec, image_size=size, seq_len=given.get("seq_len", spec.seq_len))


def parse_image_size(text: str, what: str = "--image-size") -> tuple[int, int]:
    """'224', '384,640' or '384x640'; `what` names the option in the error."""
    parts = [p.strip() for p in str(text).replace("x", ",").split(",")]
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        sizes = []
    if len(sizes) == 1:
        sizes = sizes * 2
    if len(sizes) != 2 or min(sizes) <= 0:
        raise FairnessError(f"{what} {text!r}: expected a positive size S or H,W, e.g. 224 or 384,640")
    return sizes[0], sizes[1]


@dataclass
class Inputs:
    """Example inputs for one forward pass, and what they are (for the results file)."""

    args: tuple
    kwargs: dict
    record: dict


def _timm_input_size(model) -> tuple[int, int, int] | None:
    cfg = getattr(model, "pretrained_cfg", None) or getattr(model, "default_cfg", None) or {}
    size = cfg.get("input_size")
    return tuple(size) if size else None


def torchvision_crop(name: str) -> int:
    import torchvision

    try:
        weights = torchvision.models.get_model_weights(name)
        first = next(iter(weights))
        crop = first.transforms.keywords.get("crop_size") if hasattr(first.transforms, "keywords") else None
        return int(crop) if crop else 224
    except Exception:
        return 224  # torchvision's classification default


def _in_channels(model: torch.nn.Module) -> int:
    for m in model.modules():
        if isinstance(m, torch.nn.modules.conv._ConvNd):
            return m.in_channels
    return 3


def _token_ids(vocab: int, batch: int, seq_len: int, device) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, vocab, (batch, seq_len), generator=gen).to(device)


def make_inputs(model: torch.nn.Module, src: Source | None, spec: InputSpec, batch_size: int,
                device) -> Inputs:
    """Example inputs for `model`. The default comes from the model's own config where it has
    one (timm's pretrained_cfg input_size, HF's image_size or vocabulary); the record says
    which was used and where it came from."""
    if batch_size <= 0:
        raise FairnessError(f"--batch {batch_size}: expected a positive batch size")
    if spec.seq_len is not None and spec.seq_len <= 0:
        raise FairnessError(f"--seq-len {spec.seq_len}: expected a positive sequence length")
    if spec.decoder_seq_len is not None and spec.decoder_seq_len <= 0:
        raise FairnessError(f"decoder_seq_len {spec.decoder_seq_len}: expected a positive sequence length")
    if spec.factory:
        return _factory_inputs(spec.factory, batch_size, device)

    config = getattr(model, "config", None)
    main_input = getattr(model, "main_input_name", None)
    if config is not None and hasattr(config, "text_config") and hasattr(config, "vision_config"):
        return _hf_text_image_inputs(config, spec, batch_size, device)
    if config is not None and main_input == "input_features" and hasattr(config, "num_mel_bins"):
        return _hf_audio_inputs(config, spec, batch_size, device)
    if config is not None and main_input == "input_ids":
        # The model's defaults are kept (use_cache too: use_cache=False makes transformers
        # read position ids' values to detect packed sequences, which meta tensors lack).
        return _hf_token_inputs(config, spec, batch_size, device)
    if config is not None and main_input == "pixel_values":
        size = spec.image_size or _pair(getattr(config, "image_size", 224))
        default = "" if spec.image_size else "model config image_size"
        return _image_inputs(getattr(config, "num_channels", 3), size, batch_size, device, default,
                             kw="pixel_values")
    if spec.seq_len is not None:
        vocab = _vocab_size(model)
        ids = _token_ids(vocab, batch_size, spec.seq_len, device)
        return Inputs((ids,), {}, {"kind": "tokens", "batch_size": batch_size, "seq_len": spec.seq_len,
                                   "vocab_size": vocab})

    size, channels, origin = spec.image_size, None, ""
    timm_size = _timm_input_size(model)
    if timm_size:
        channels = timm_size[0]
        if size is None:
            size, origin = (timm_size[1], timm_size[2]), "timm pretrained_cfg input_size"
    if size is None and src is not None and src.kind == "torchvision":
        crop = torchvision_crop(src.name)
        size, origin = (crop, crop), "torchvision weights' crop size"
    if size is None:
        what = src.text if src else "this model"
        raise FairnessError(f"{what}: no default input is known; pass --image-size S, --seq-len N "
                            f"or --inputs python:module:function(batch_size, device)")
    return _image_inputs(channels or _in_channels(model), size, batch_size, device, origin)


def recipe(src: Source, spec: InputSpec) -> dict:
    """How another process builds the same model with the same inputs: plain JSON. Used by the
    fresh process that measures CPU peak memory and by the worker of `--isolate`."""
    return {"source": src.text, "kwargs": dict(src.kwargs),
            "image_size": list(spec.image_size) if spec.image_size else None,
            "seq_len": spec.seq_len, "factory": spec.factory, "decoder_seq_len": spec.decoder_seq_len}


def build_from(rec: dict, device: str) -> tuple[torch.nn.Module, Callable[[int], Inputs]]:
    """The model a recipe describes, built on `device` with random weights, and its inputs at
    any batch size."""
    src = parse_source(rec["source"], rec["kwargs"])
    module = build(src, device)
    size = rec.get("image_size")
    spec = InputSpec(image_size=tuple(size) if size else None, seq_len=rec.get("seq_len"),
                     factory=rec.get("factory"), decoder_seq_len=rec.get("decoder_seq_len"))
    return module, lambda b: make_inputs(module, src, spec, b, device)


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _image_inputs(channels, size, batch_size, device, origin, kw=None) -> Inputs:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch_size, channels, *size, generator=gen).to(device) if str(device) != "meta" \
        else torch.empty(batch_size, channels, *size, device="meta")
    record = {"kind": "image", "batch_size": batch_size, "channels": channels, "height": size[0],
              "width": size[1], "default_from": origin or None}
    return Inputs((), {kw: x}, record) if kw else Inputs((x,), {}, record)


def _vocab_size(model) -> int:
    config = getattr(model, "config", None)
    vocab = getattr(config, "vocab_size", None)
    if vocab:
        return int(vocab)
    for m in model.modules():
        if isinstance(m, torch.nn.Embedding):
            return m.num_embeddings
    raise FairnessError("--seq-len given but the model has no vocabulary (no config.vocab_size, no nn.Embedding); "
                        "pass --inputs python:module:function(batch_size, device)")


def _hf_audio_inputs(config, spec: InputSpec, batch_size: int, device) -> Inputs:
    """A speech encoder-decoder (Whisper): log-mel features of the longest clip the encoder takes
    (2 frames per encoder position: 3000 frames, 30 s, for Whisper), and decoder tokens."""
    frames = 2 * config.max_source_positions
    shape = (batch_size, config.num_mel_bins, frames)
    features = torch.empty(*shape, device="meta") if str(device) == "meta" else torch.randn(*shape).to(device)
    decoder_len = spec.decoder_seq_len or spec.seq_len or min(DEFAULT_SEQ_LEN, config.max_target_positions)
    record = {"kind": "features", "batch_size": batch_size, "channels": config.num_mel_bins, "frames": frames,
              "decoder_seq_len": decoder_len, "vocab_size": config.vocab_size,
              "default_from": "the model's max_source_positions (30 s of audio)"}
    return Inputs((), {"input_features": features,
                       "decoder_input_ids": _token_ids(config.vocab_size, batch_size, decoder_len, device)}, record)


def _hf_text_image_inputs(config, spec: InputSpec, batch_size: int, device) -> Inputs:
    """A dual encoder (CLIP, SigLIP): tokens for its text tower and an image for its vision tower."""
    tokens = _hf_token_inputs(config.text_config, spec, batch_size, device)
    vision = config.vision_config
    size = spec.image_size or _pair(getattr(vision, "image_size", 224))
    image = _image_inputs(getattr(vision, "num_channels", 3), size, batch_size, device,
                          "" if spec.image_size else "model config image_size", kw="pixel_values")
    record = {**tokens.record, "image": {k: image.record[k] for k in ("channels", "height", "width")}}
    return Inputs((), {**tokens.kwargs, **image.kwargs}, record)


def _hf_token_inputs(config, spec: InputSpec, batch_size: int, device) -> Inputs:
    max_pos = getattr(config, "max_position_embeddings", None)
    # the default length, within what the model takes (CLIP's text tower: 77 positions)
    seq_len = spec.seq_len or min(DEFAULT_SEQ_LEN, max_pos or DEFAULT_SEQ_LEN)
    if max_pos and seq_len > max_pos:
        raise FairnessError(f"--seq-len {seq_len}: the model's config allows at most "
                            f"max_position_embeddings={max_pos}; pass a shorter --seq-len or "
                            f"-k max_position_embeddings={seq_len}")
    vocab = int(config.vocab_size)
    kwargs = {"input_ids": _token_ids(vocab, batch_size, seq_len, device)}
    record = {"kind": "tokens", "batch_size": batch_size, "seq_len": seq_len, "vocab_size": vocab,
              "default_from": None if spec.seq_len else f"fairness default seq_len={DEFAULT_SEQ_LEN}"
              if seq_len == DEFAULT_SEQ_LEN else f"the model's max_position_embeddings={seq_len}"}
    if getattr(config, "is_encoder_decoder", False):
        # Encoder-decoder models (T5, Switch Transformers) also need decoder tokens: by default
        # as many as the encoder's.
        decoder_len = spec.decoder_seq_len or seq_len
        kwargs["decoder_input_ids"] = _token_ids(vocab, batch_size, decoder_len, device)
        record["decoder_seq_len"] = decoder_len
    return Inputs((), kwargs, record)


def _factory_inputs(path: str, batch_size: int, device) -> Inputs:
    fn = import_attr(path.removeprefix("python:"), "--inputs")
    try:
        params = inspect.signature(fn).parameters
        call_kwargs = {k: v for k, v in (("batch_size", batch_size), ("device", device)) if k in params}
        value = fn(**call_kwargs)
    except FairnessError:
        raise
    except Exception as e:
        raise FairnessError(f"--inputs {path}: the input factory raised {type(e).__name__}: {e}") from None
    args, kwargs, shapes = split_input_value(value, f"--inputs {path}: returned")
    return Inputs(args, kwargs, {"kind": "factory", "factory": path, "batch_size": batch_size, "shapes": shapes})


def split_input_value(value, what: str) -> tuple[tuple, dict, dict]:
    """Example inputs as users give them (a tensor, a tuple of them, or a dict of keyword
    inputs) to (args, kwargs, shapes by position or name)."""
    if isinstance(value, torch.Tensor):
        args, kwargs = (value,), {}
    elif isinstance(value, (tuple, list)):
        args, kwargs = tuple(value), {}
    elif isinstance(value, dict):
        args, kwargs = (), dict(value)
    else:
        raise FairnessError(f"{what} {type(value).__name__}; expected a tensor, a tuple of tensors "
                            f"or a dict of keyword tensors")
    shapes = {str(i): list(t.shape) for i, t in enumerate(args) if isinstance(t, torch.Tensor)}
    shapes.update({k: list(t.shape) for k, t in kwargs.items() if isinstance(t, torch.Tensor)})
    return args, kwargs, shapes


# The sizes of a transformers config under the names common configs use (BERT, GPT-2, T5, Mixtral):
# enough to say which model was built. hf:albert without kwargs is ALBERT-xxlarge (hidden_size 4096).
_CONFIG_SIZES = ("num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads",
                 "intermediate_size", "embedding_size", "n_layer", "n_embd", "n_head", "num_layers",
                 "num_decoder_layers", "d_model", "d_ff", "num_heads", "num_experts", "num_local_experts")


def architecture(model: torch.nn.Module) -> dict:
    """The sizes that say which model was built: a transformers config's, its defaults included
    (other models are named by their source and kwargs)."""
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "to_dict"):
        return {}
    d = config.to_dict()
    return {k: d[k] for k in _CONFIG_SIZES if isinstance(d.get(k), int) and not isinstance(d.get(k), bool)}
