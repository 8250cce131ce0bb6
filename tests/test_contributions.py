"""sae_core.contributions: a token's reconstruction as bias + one part per active feature."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from sae_core.contributions import decoder_bias, token_contributions
from sae_core.training import RECOMMENDED, train


@pytest.fixture(scope="module")
def model_and_x():
    from sae_core.examples import load_example
    from sae_core.table import values_of
    x = values_of(load_example("seed_tokens")).copy()
    return train(x, replace(RECOMMENDED, epochs=300, seed=1)).model, x


def decode_of(model, f_H) -> np.ndarray:
    with torch.no_grad():
        return model.decode(torch.as_tensor(f_H, dtype=torch.float32)[None, None])[0, 0].double().numpy()


@pytest.mark.parametrize("row", range(8))
def test_parts_add_up_to_the_models_own_reconstruction(model_and_x, row):
    model, x = model_and_x
    tc = token_contributions(model, x[row], "t")
    with torch.no_grad():
        f_H = model.encode(torch.as_tensor(x[row : row + 1]))[0, 0].numpy()
    np.testing.assert_allclose(tc.activations, f_H, rtol=1e-6)
    assert tc.active == [j for j in range(len(f_H)) if f_H[j] > 0] and tc.active
    np.testing.assert_allclose(tc.original, decode_of(model, f_H), atol=1e-6)
    np.testing.assert_allclose(tc.reconstruction, tc.original, atol=1e-5)
    np.testing.assert_allclose(tc.bias, model.b_dec[0].detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(decoder_bias(model, 4), tc.bias, atol=1e-12)
    W = model.W_dec[0].detach().numpy()
    for j, part in tc.parts.items():  # activation times decoder row
        np.testing.assert_allclose(part, f_H[j] * W[j], atol=1e-6)
    assert tc.scales == {j: 1.0 for j in tc.active}


def test_turning_a_feature_off_or_scaling_it_equals_decoding_the_edited_activations(model_and_x):
    model, x = model_and_x
    first = token_contributions(model, x[6], "robot")
    off, doubled = first.active[0], first.active[-1]
    edits = {off: 0.0, doubled: 2.0} if off != doubled else {off: 0.0}
    tc = token_contributions(model, x[6], "robot", {**edits, 999: 5.0})  # a feature not active is ignored
    f_H = first.activations.copy()
    for j, s in edits.items():
        f_H[j] *= s
    np.testing.assert_allclose(tc.reconstruction, decode_of(model, f_H), atol=1e-5)
    np.testing.assert_allclose(tc.parts[off], 0.0)
    assert tc.original_error == pytest.approx(first.error)
    assert tc.error != pytest.approx(tc.original_error)  # the edit changed the reconstruction
    assert 999 not in tc.scales


def test_a_token_with_no_active_feature_is_the_bias():
    from sae_core.architectures.standard import StandardSAE
    model = StandardSAE(2, [2], [0], sparsity_weight=[0.0])
    with torch.no_grad():
        model.W_enc.copy_(torch.eye(2)[None])
        model.b_enc.zero_()
        model.W_dec.copy_(torch.tensor([[[1.0, 0.0], [0.0, 3.0]]]))
        model.b_dec.copy_(torch.tensor([[0.5, -0.5]]))
    none = token_contributions(model, np.array([-1.0, -2.0]), "nothing")
    assert none.parts == {} and none.active == []
    np.testing.assert_allclose(none.reconstruction, [0.5, -0.5])
    one = token_contributions(model, np.array([-1.0, 2.0]), "one")
    assert one.active == [1]
    np.testing.assert_allclose(one.parts[1], [0.0, 6.0])
    np.testing.assert_allclose(one.reconstruction, [0.5, 5.5])
