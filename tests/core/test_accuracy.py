from __future__ import annotations

import numpy as np
import pytest

from trt_tui.core.accuracy import compare, label_accuracy
from trt_tui.core.results import COLUMNS


def test_identical():
    ref = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], np.float32)
    r = compare([ref], [ref.copy()])
    assert r["max_abs_err"] == 0 and r["mean_abs_err"] == 0 and r["max_rel_err"] == 0
    assert r["cosine_sim"] == pytest.approx(1.0) and r["top1_agreement"] == 1.0
    assert r["nan_count"] == r["inf_count"] == 0
    assert {k for k in r if k != "outputs"} <= set(COLUMNS)


def test_known_errors():
    ref = np.array([[1.0, 2.0, 4.0], [4.0, 2.0, 1.0]])
    out = np.array([[1.0, 2.5, 4.0], [4.0, 2.0, 5.0]])  # second row's argmax flips to 2
    r = compare([ref], [out])
    assert r["max_abs_err"] == pytest.approx(4.0)
    assert r["mean_abs_err"] == pytest.approx(4.5 / 6)
    assert r["max_rel_err"] == pytest.approx(4.0)  # |5-1| / 1
    assert r["top1_agreement"] == 0.5
    cos = (ref.ravel() @ out.ravel()) / np.linalg.norm(ref) / np.linalg.norm(out)
    assert r["cosine_sim"] == pytest.approx(cos)


def test_nan_and_inf_are_counted_not_raised():
    ref = np.ones((3, 4), np.float32)
    out = ref.copy()
    out[0, 1] = np.nan
    out[2, 0] = np.inf
    r = compare([ref], [out])
    assert r["nan_count"] == 1 and r["inf_count"] == 1
    assert r["max_abs_err"] == 0.0  # finite elements agree
    assert r["top1_agreement"] == pytest.approx(1 / 3)  # rows with NaN/Inf disagree
    all_nan = compare([ref], [np.full_like(ref, np.nan)])
    assert all_nan["nan_count"] == 12 and np.isnan(all_nan["max_abs_err"]) and all_nan["top1_agreement"] == 0.0


def test_multiple_outputs_worst_overall():
    a = np.zeros((2, 5))
    b = np.ones((2, 3, 4, 2))
    r = compare([a, b], [a + 0.1, b + 0.5])
    assert len(r["outputs"]) == 2
    assert r["outputs"][1]["top1_agreement"] is None  # neither classifier nor per-token logits
    assert r["max_abs_err"] == pytest.approx(0.5) and r["mean_abs_err"] == pytest.approx(0.5)
    assert r["max_rel_err"] == pytest.approx(0.1 / 1e-6)  # zero reference: the 1e-6 floor
    assert r["cosine_sim"] == 0.0  # zero reference vs non-zero output
    assert r["top1_agreement"] == 1.0


def test_reshape_same_size_and_label_accuracy():
    r = compare([np.arange(6.0).reshape(2, 3)], [np.arange(6.0)])
    assert r["max_abs_err"] == 0
    assert label_accuracy(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), np.array([1, 0, 0])) == pytest.approx(2 / 3)


def test_top1_agreement_flagged_when_the_reference_gives_one_class():
    from trt_tui.core.accuracy import top1_uninformative

    rng = np.random.default_rng(0)
    varied = rng.standard_normal((32, 10))
    one_class = varied.copy()
    one_class[:, 3] += 100.0  # like a random-weight resnet: class 3 wins for every input
    assert top1_uninformative([varied]) == ""
    why = top1_uninformative([one_class])
    assert "class 3 for all 32 samples" in why
    assert top1_uninformative([one_class[:1]]) == ""  # one sample: nothing to say
    assert top1_uninformative([rng.standard_normal((4, 3, 8))]) == ""  # not (batch, classes)


def test_per_token_logits_top1_per_token():
    """(batch, seq, vocab) logits of a causal LM: top-1 agreement counts tokens, not samples."""
    ref = np.zeros((2, 4, 10))
    ref[..., 3] = 1.0  # every token predicts id 3
    out = ref.copy()
    out[0, 1, 7] = 5.0  # one token of eight flips
    assert compare([ref], [out])["top1_agreement"] == pytest.approx(7 / 8)


def test_a_model_that_returns_its_labels_before_its_scores_is_judged_on_the_scores():
    """Outputs keep their kind through the runners (labels int64, scores FP32), so the accuracy columns
    compare the first floating-point output, and the label argmax is not read as one-class 'logits'."""
    import torch

    from trt_tui.core import accuracy, bench
    from trt_tui.core.inputs import single
    from trt_tui.core.stages.benchmark import accuracy_fields

    class LabelsFirst(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(6, 5)

        def forward(self, x):
            scores = self.fc(x)
            return {"label": scores.argmax(-1), "scores": scores}

    torch.manual_seed(0)
    model = LabelsFirst().eval()
    x = np.random.default_rng(0).normal(size=(8, 6)).astype(np.float32)
    ref = bench.run_batches(bench.TorchRunner(model, single((6,)), device="cpu"), x, 4)
    assert [r.dtype for r in ref] == [np.int64, np.float32] and accuracy.compared_output(ref) == 1
    noisy = [ref[0], ref[1] + np.float32(0.01)]
    fields = accuracy_fields(ref, noisy, None)
    assert 0.0099 < fields["max_abs_err"] < 0.0101 and fields["top1_agreement"] is not None
    assert accuracy.compared_output([np.zeros(3, np.int64)]) == 0  # no float output: the first
