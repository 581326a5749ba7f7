"""Unrolled convolutions and pooling against loops written from PyTorch's definition."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurochip.mapping.nir import unroll
from tests.reference import naive_conv


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_conv2d_matches_naive(data):
    groups = data.draw(st.sampled_from([1, 2]))
    c_in = groups * data.draw(st.integers(1, 2))
    c_out = groups * data.draw(st.integers(1, 2))
    k = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    stride = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)))
    dil = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)))
    h, w = data.draw(st.integers(5, 9)), data.draw(st.integers(5, 9))  # >= the largest dilated kernel
    padding = data.draw(st.one_of(st.integers(0, 2), st.just("valid"), st.just("same")))
    if padding == "same":
        stride = (1, 1)
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    wt = rng.normal(size=(c_out, c_in // groups) + k)
    x = rng.normal(size=(c_in, h, w))
    M, out_shape = unroll.conv(wt, x.shape, stride, padding, dil, groups)
    pads = unroll.conv_padding(padding, k, dil, stride)
    want = naive_conv.conv2d(x, wt, stride, pads, dil, groups)
    assert out_shape == want.shape
    np.testing.assert_allclose(M @ x.ravel(), want.ravel(), rtol=1e-12, atol=1e-12)


def test_pooling_sums_and_averages_windows():
    x = np.arange(2 * 4 * 4, dtype=float).reshape(2, 4, 4)
    M, shape = unroll.pool2d(x.shape, 2, 2, 0, average=False)
    assert shape == (2, 2, 2)
    np.testing.assert_allclose(M @ x.ravel(), x.reshape(2, 2, 2, 2, 2).sum(axis=(2, 4)).ravel())
    M, _ = unroll.pool2d(x.shape, 2, 2, 0, average=True)
    np.testing.assert_allclose(M @ x.ravel(), x.reshape(2, 2, 2, 2, 2).mean(axis=(2, 4)).ravel())


def test_conv1d_and_bad_shapes():
    w = np.array([[[1.0, 2.0, 3.0]]])
    M, shape = unroll.conv(w, (1, 5), padding=1)
    assert shape == (1, 5)
    np.testing.assert_allclose(M @ np.array([1.0, 0, 0, 0, 1]), np.convolve([1.0, 0, 0, 0, 1], [3, 2, 1], "same"))
    with pytest.raises(ValueError, match="does not match a 2-d kernel"):
        unroll.conv(np.ones((1, 1, 2, 2)), (1, 5))
    with pytest.raises(ValueError, match="needs stride 1"):
        unroll.conv(np.ones((1, 1, 3)), (1, 5), stride=2, padding="same")
