"""The measure: section and the command line's run options: one home for keys, checks and defaults
(fairness/settings.py)."""

import pytest

from fairness.errors import FairnessError
from fairness.runner import RunSettings
from fairness.settings import MeasureSection


def test_every_run_setting_has_one_default_and_the_command_line_wins():
    section = MeasureSection.from_yaml({"dtype": "bfloat16", "batch": 8, "threads": 4, "channels_last": False},
                                       "config c.yaml: measure")
    assert section.batch == (8,)  # one batch size is a list of one
    given = MeasureSection.from_cli("true", None, 2, None, None, None, None, batch=(1, 64), min_time=None)
    assert given == {"channels_last": True, "threads": 2, "batch": (1, 64)}  # what was left out is not given
    s = section.merged(given, "config c.yaml: measure").to_run_settings("cuda", idle=False)
    assert (s.device, s.dtype, s.batch_sizes, s.threads, s.channels_last, s.idle) == \
        ("cuda", "bfloat16", (1, 64), 2, True, False)
    # the defaults a file, a command line and the Python API get are the same
    plain = MeasureSection().to_run_settings()
    api = RunSettings()
    for key in ("device", "dtype", "batch_sizes", "min_duration_s", "channels_last", "compile", "tf32", "threads",
                "train", "cuda_graphs", "precision", "isolate"):
        assert getattr(plain, key) == getattr(api, key), key


def test_compile_true_is_torch_compiles_default_mode():
    assert MeasureSection.from_yaml({"compile": True}, "m").to_run_settings().compile == "default"
    assert MeasureSection.from_yaml({"compile": False}, "m").to_run_settings().compile is None


def test_an_unknown_key_names_the_closest_known_one():
    with pytest.raises(FairnessError, match="config c.yaml: measure: unknown key 'dtpye'; did you mean 'dtype'"):
        MeasureSection.from_yaml({"dtpye": "bfloat16"}, "config c.yaml: measure")


def test_a_bad_value_names_the_file_key_or_the_option():
    with pytest.raises(FairnessError, match=r"config c.yaml: measure.batch: 0; expected a positive integer"):
        MeasureSection.from_yaml({"batch": 0}, "config c.yaml: measure")
    with pytest.raises(FairnessError, match=r"\(with the command line's settings\).min_time: 9000"):
        MeasureSection().merged({"min_time": 9000}, "config c.yaml: measure")
    with pytest.raises(FairnessError, match=r"^--min-time 9000: expected seconds, between 0 and 3600$"):
        MeasureSection().merged({"min_time": 9000})
