"""The shared figures (ibcore.plots): every public function on tiny arrays, Agg backend."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection, PolyCollection  # noqa: E402

from ibcore import plots  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def plane(s: int = 4) -> dict[str, np.ndarray]:
    t = np.arange(s, dtype=float)
    return {
        "h1": np.column_stack([10 - t, 0.5 + 0.1 * t]),
        "h2": np.column_stack([5 - t / 2, 0.4 + 0.1 * t]),
        "output": np.column_stack([1 + t / 10, 0.2 + 0.2 * t]),
    }


def test_epoch_norm_is_log_scaled_with_epoch_0_drawn_as_1():
    n = plots.epoch_norm([0, 10, 100])
    assert (n.vmin, n.vmax) == (1.0, 100.0)
    assert n(10) == pytest.approx(0.5)  # log scale: 10 is half-way from 1 to 100
    one = plots.epoch_norm([0])  # a single epoch still gives a usable range
    assert (one.vmin, one.vmax) == (1.0, 2.0)


def test_mean_planes_averages_every_layer_over_seeds():
    a, b = plane(), {k: v + 1.0 for k, v in plane().items()}
    m = plots.mean_planes([a, b])
    assert list(m) == ["h1", "h2", "output"]
    for k in m:
        np.testing.assert_allclose(m[k], a[k] + 0.5)
    with pytest.raises(ValueError, match="at least one"):
        plots.mean_planes([])


def test_draw_plane_one_trajectory_and_one_scatter_per_layer(ax):
    epochs = [0, 3, 30, 300]
    p = plane()
    norm = plots.draw_plane(ax, p, epochs)
    assert (norm.vmin, norm.vmax) == (1.0, 300.0)
    assert len(ax.lines) == 3
    for line, xy in zip(ax.lines, p.values(), strict=True):
        np.testing.assert_array_equal(line.get_xydata(), xy)
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatters) == 3
    for sc, xy in zip(scatters, p.values(), strict=True):
        np.testing.assert_array_equal(sc.get_offsets(), xy)
        np.testing.assert_array_equal(sc.get_array(), [1, 3, 30, 300])  # coloured by epoch
        assert sc.norm is norm
    assert [t.get_text() for t in ax.texts] == ["h1", "h2", "output"]
    assert [tuple(t.xy) for t in ax.texts] == [tuple(xy[-1]) for xy in p.values()]
    assert ax.get_xlabel() == "I(X;T) [bits]" and ax.get_ylabel() == "I(T;Y) [bits]"


def test_draw_plane_shares_a_given_norm_and_can_skip_labels(ax):
    shared = plots.epoch_norm([0, 1000])
    assert plots.draw_plane(ax, plane(), [0, 1, 2, 3], norm=shared, label_layers=False) is shared
    assert not ax.texts
    assert all(c.norm is shared for c in ax.collections)


def test_epoch_colorbar_uses_the_norm_and_is_labelled():
    fig, ax = plt.subplots()
    norm = plots.epoch_norm([0, 50])
    cb = plots.epoch_colorbar(fig, ax, norm)
    assert cb.norm is norm and (cb.norm.vmin, cb.norm.vmax) == (1.0, 50.0)
    assert cb.ax.get_ylabel() == "Epoch" and len(fig.axes) == 2
    plt.close(fig)


def _band_limits(ax) -> tuple[np.ndarray, np.ndarray]:
    (poly,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    v = poly.get_paths()[0].vertices
    return v[:, 1].min(), v[:, 1].max()


def test_band_draws_the_seed_mean_and_a_std_or_range_band(ax):
    x = [0, 1, 2]
    ys = np.array([[1.0, 2.0, 3.0], [3.0, 4.0, 9.0]])
    plots.band(ax, x, ys, label="mean", color="C3")
    (line,) = ax.lines
    np.testing.assert_allclose(line.get_ydata(), [2.0, 3.0, 6.0])
    assert line.get_label() == "mean" and line.get_color() == "C3"
    lo, hi = _band_limits(ax)
    assert (lo, hi) == pytest.approx((1.0, 9.0))  # mean ± std: 2 - 1 ... 6 + 3
    ax.cla()
    ys3 = np.array([[1.0, 2.0, 3.0], [2.0, 2.0, 2.0], [6.0, 2.0, 4.0]])
    plots.band(ax, x, ys3, kind="range")
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [3.0, 2.0, 3.0])
    assert _band_limits(ax) == pytest.approx((1.0, 6.0))  # min ... max over seeds


def test_band_with_one_seed_draws_no_band_and_ignores_nans(ax):
    plots.band(ax, [0, 1], [1.0, 2.0])
    assert len(ax.lines) == 1 and not ax.collections
    plots.band(ax, [0, 1], np.array([[1.0, np.nan], [3.0, 4.0]]))
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [2.0, 4.0])


def test_save_writes_a_png_under_ibcore_results(tmp_path, monkeypatch):
    monkeypatch.setenv("IBCORE_RESULTS", str(tmp_path / "res"))
    fig, ax = plt.subplots(figsize=(2, 2))
    plots.draw_plane(ax, plane(), [0, 1, 2, 3])
    path = plots.save(fig, "00", "plane")
    plt.close(fig)
    expect = tmp_path / "res" / "figures" / "00" / "plane.png"
    assert path == str(expect)
    data = expect.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    assert [p.name for p in expect.parent.iterdir()] == ["plane.png"]  # no temporary file left
