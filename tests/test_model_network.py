"""Networks, scaling and element models: derivatives against finite differences."""
from __future__ import annotations

import numpy as np
import pytest

from hdnnp import _core

ACTS = "ltsprgcSeh"


def _random_net(acts_hidden, n_in=5, hidden=(4, 3), normalize=False, seed=0):
    rng = np.random.default_rng(seed)
    sizes = [n_in, *hidden, 1]
    n = sum(sizes[i - 1] * sizes[i] + sizes[i] for i in range(1, len(sizes)))
    w = rng.uniform(-0.8, 0.8, n)
    return _core.Network(sizes, acts_hidden + "l", w, normalize), rng


def _fd(f, x, h=1e-6):
    g = np.empty_like(x)
    for i in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (f(xp) - f(xm)) / (2 * h)
    return g


@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("normalize", [False, True])
def test_network_gradient_fd(act, normalize):
    net, rng = _random_net(act * 2, normalize=normalize, seed=ACTS.index(act))
    X = rng.uniform(-1.5, 1.5, (4, net.n_inputs))
    E, D = net.evaluate_batch(X)
    E2, D2 = net.evaluate_batch(X, n2p2_order=True)
    assert np.array_equal(E, E2)
    np.testing.assert_allclose(D, D2, rtol=1e-12, atol=1e-14)
    for x, d in zip(X, D):
        fd = _fd(lambda z: net.evaluate_batch(z[None], grad=False)[0][0], x)
        np.testing.assert_allclose(d, fd, rtol=1e-6, atol=1e-8)


def test_network_shapes_and_errors():
    net, _ = _random_net("tt")
    assert net.layer_sizes == [5, 4, 3, 1] and net.activations == "ttl"
    assert net.weights.shape == (net.n_weights,)
    with pytest.raises(ValueError, match="weights"):
        _core.Network([5, 4, 1], "tl", np.zeros(3))
    with pytest.raises(ValueError, match="activation"):
        _core.Network([5, 4, 1], "xl", np.zeros(29))
    with pytest.raises(ValueError, match="columns"):
        net.evaluate_batch(np.zeros((2, 3)))
    E, D = net.evaluate_batch(np.zeros((0, 5)))
    assert E.shape == (0,) and D.shape == (0, 5)


def test_network_weight_order():
    """n2p2 order: per layer, weights j (previous layer) outer, k inner, then biases."""
    sizes = [2, 3, 1]
    rng = np.random.default_rng(3)
    W1, b1, W2, b2 = rng.normal(size=(2, 3)), rng.normal(size=3), rng.normal(size=(3, 1)), rng.normal(size=1)
    flat = np.concatenate([W1.ravel(), b1, W2.ravel(), b2])
    net = _core.Network(sizes, "tl", flat)
    x = rng.normal(size=2)
    expect = (np.tanh(x @ W1 + b1) @ W2 + b2)[0]
    assert abs(net.evaluate_batch(x[None], grad=False)[0][0] - expect) < 1e-14


@pytest.mark.parametrize("mode", [0, 1, 2, 3, 4])
def test_element_model_gradient_wrt_raw_G(mode):
    net, rng = _random_net("tp", n_in=6, seed=11)
    gmin = rng.uniform(0, 1, 6)
    gmax = gmin + rng.uniform(0.5, 2, 6)
    gmean = 0.5 * (gmin + gmax)
    gsigma = rng.uniform(0.1, 1, 6)
    sc = _core.Scaling(mode, -1.0, 1.0, gmin, gmax, gmean, gsigma)
    em = _core.ElementModel(sc, net)
    G = rng.uniform(0, 3, (3, 6))
    Gs = sc.apply_batch(G)
    expect = {0: G, 1: -1 + 2 * (G - gmin) / (gmax - gmin), 2: G - gmean,
              3: -1 + 2 * (G - gmean) / (gmax - gmin), 4: -1 + 2 * (G - gmean) / gsigma}[mode]
    np.testing.assert_allclose(Gs, expect, rtol=1e-14, atol=1e-14)
    E, D = em.evaluate_batch(G)
    E_s, D_s = em.evaluate_batch(G, wrt_scaled=True)
    assert np.array_equal(E, E_s)
    np.testing.assert_allclose(D, D_s * sc.factors, rtol=1e-15)
    for g, d in zip(G, D):
        fd = _fd(lambda z: em.evaluate_batch(z[None], grad=False)[0][0], g)
        np.testing.assert_allclose(d, fd, rtol=1e-6, atol=1e-8)


def test_extrapolation_count():
    sc = _core.Scaling(3, 0.0, 1.0, np.zeros(3), np.ones(3), np.full(3, 0.5), np.ones(3))
    G = np.array([[0.5, 0.5, 0.5], [-0.1, 0.5, 1.2], [0.0, 1.0, 1.0 + 1e-14]])
    assert list(sc.count_extrapolations_batch(G)) == [0, 2, 0]
