import math

import numpy as np
import pytest
import torch

from ibcore.measures.zxzy import (
    COLUMNS,
    PHASE_KINDS,
    detect_phases,
    smooth_trajectory,
    zx_information,
    zxzy,
    zxzy_measure,
    zxzy_snapshots,
    zy_information,
)

FAST = dict(steps=200, hidden=32, lr=1e-2, batch_size=128)


@pytest.fixture(scope="module")
def toy():
    g = torch.Generator().manual_seed(0)
    n, d = 600, 8
    x = torch.randn(n, d, generator=g)
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()  # 4 classes from X
    reps = {
        "x": x,
        "noise_0.3": x + 0.3 * torch.randn(n, d, generator=g),
        "noise_1": x + 1.0 * torch.randn(n, d, generator=g),
        "noise_3": x + 3.0 * torch.randn(n, d, generator=g),
        "const": torch.full((n, 5), 2.0),
        "onehot_y": torch.nn.functional.one_hot(y, 4).float(),
    }
    return reps, x, y, zxzy(reps, x, y, n_fit=450, **FAST)


def test_zx_orders_representations_by_information(toy):
    _, _, _, r = toy
    zx = dict(zip(r.layers, r.zx_test, strict=True))
    assert zx["x"] < zx["noise_0.3"] < zx["noise_1"] < zx["noise_3"] < zx["const"]
    assert zx["x"] < 0.1
    assert zx["const"] == pytest.approx(1.0, abs=0.15)  # no better than the mean
    info = zx_information(r.zx_test)
    assert np.all(np.diff(info[:4]) < 0)  # rising noise -> falling information about X


def test_zy_one_hot_label_is_best_and_constant_is_chance(toy):
    _, _, _, r = toy
    zy = dict(zip(r.layers, r.zy_test, strict=True))
    assert zy["onehot_y"] == min(zy.values()) and zy["onehot_y"] < 0.1
    assert zy["const"] == pytest.approx(math.log(4), abs=0.1)
    assert zy_information(zy["const"], 4) == pytest.approx(0.0, abs=0.1)


def test_probes_of_all_layers_train_together_and_independently(toy):
    reps, x, y, r = toy
    alone = zxzy({"noise_1": reps["noise_1"]}, x, y, n_fit=450, **FAST)
    both = zxzy({"noise_1": reps["noise_1"], "const": reps["const"]}, x, y, n_fit=450, **FAST)
    assert both.zx_test[0] == pytest.approx(alone.zx_test[0], rel=0.15)
    assert r.as_array().shape == (len(reps), len(COLUMNS))


def test_snapshots_side_by_side_equal_one_call_per_snapshot(toy):
    reps, x, y, _ = toy
    g = torch.Generator().manual_seed(1)
    snaps = [{k: reps[k] + 0.1 * s * torch.randn(reps[k].shape, generator=g)
              for k in ("noise_1", "onehot_y")} for s in range(3)]  # fmt: skip
    together = zxzy_snapshots(snaps, x, y, n_fit=450, probe_seed=4, **FAST)
    for s, r in zip(snaps, together, strict=True):
        alone = zxzy(s, x, y, n_fit=450, probe_seed=4, **FAST)
        assert r.layers == alone.layers
        np.testing.assert_allclose(r.as_array(), alone.as_array(), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="same layers"):
        zxzy_snapshots([snaps[0], {"noise_1": reps["noise_1"]}], x, y, **FAST)
    with pytest.raises(ValueError, match="non-empty sequence"):
        zxzy_snapshots([], x, y, **FAST)
    with pytest.raises(ValueError, match="non-empty sequence"):
        zxzy_snapshots(snaps[0], x, y, **FAST)


def test_hand_written_probe_gradients_equal_autograd():
    from ibcore.measures.zxzy import StackedProbes, _ce_grad, _mse_grad

    g = torch.Generator().manual_seed(3)
    z, x, y = (
        torch.randn(5, 16, 7, generator=g),
        torch.randn(16, 4, generator=g),
        torch.arange(16) % 3,
    )
    for out, hidden, grad, loss in (
        (4, 6, lambda o: _mse_grad(o, x.unsqueeze(0)), lambda o: ((o - x) ** 2).mean((1, 2))),
        (3, 6, lambda o: _ce_grad(o, torch.arange(16), y),
         lambda o: torch.nn.functional.cross_entropy(o.transpose(1, 2), y.expand(5, -1),
                                                     reduction="none").mean(1)),
        (4, 0, lambda o: _mse_grad(o, x.unsqueeze(0)), lambda o: ((o - x) ** 2).mean((1, 2))),
    ):  # fmt: skip
        m = StackedProbes(5, 7, out, hidden, torch.Generator().manual_seed(0))
        loss(m(z)).sum().backward()
        want = {k: p.grad.clone() for k, p in m.named_parameters()}
        with torch.no_grad():
            m.accumulate_grad(z, grad)
        for k, p in m.named_parameters():
            torch.testing.assert_close(p.grad, want[k], rtol=1e-5, atol=1e-7)


def test_zy_of_some_layers_leaves_every_other_number_unchanged(toy):
    reps, x, y, _ = toy
    two = {k: reps[k] for k in ("noise_1", "onehot_y")}
    snaps = [two, {k: v + 0.1 for k, v in two.items()}]
    full = np.stack([r.as_array() for r in zxzy_snapshots(snaps, x, y, n_fit=450, **FAST)])
    part = zxzy_snapshots(snaps, x, y, n_fit=450, zy_layers=["onehot_y"], **FAST)
    part = np.stack([r.as_array() for r in part])
    np.testing.assert_array_equal(part[..., :2], full[..., :2])  # Z-X: the same bits
    np.testing.assert_allclose(part[:, 1, 2:], full[:, 1, 2:], rtol=1e-6)  # its Z-Y: round-off
    assert np.isnan(part[:, 0, 2:]).all()
    with pytest.raises(ValueError, match="zy_layers"):
        zxzy_snapshots(snaps, x, y, zy_layers=["h9"], **FAST)


def test_only_x_or_only_y_and_measure_callback(toy):
    reps, x, y, _ = toy
    r = zxzy({"x": reps["x"]}, x, None, n_fit=450, **FAST)
    assert np.isfinite(r.zx_test).all() and np.isnan(r.zy_test).all()
    fn = zxzy_measure(x, y, n_fit=450, **FAST)
    out = fn({"a": reps["x"], "output": reps["onehot_y"]})
    assert out.shape == (1, 4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(reps={"a": torch.zeros(10, 3)}, x=torch.zeros(9, 2)), "'x' has 9 rows"),
        (dict(reps={"a": torch.zeros(10, 3), "b": torch.zeros(8, 3)}), "different sample counts"),
        (dict(reps={"a": torch.full((10, 3), float("nan"))}), "NaN"),
        (dict(reps={"a": torch.zeros(10)}), "N × d"),
        (dict(reps={}), "non-empty"),
        (dict(reps={"a": torch.randn(10, 3)}, x=torch.full((10, 2), float("nan"))), "'x'.*NaN"),
        (dict(reps={"a": torch.randn(10, 3)}, y=torch.zeros(7, dtype=torch.long)), "'y'"),
    ],
)
def test_bad_input_raises_value_error(kwargs, match):
    kwargs.setdefault("x", torch.randn(10, 2))
    with pytest.raises(ValueError, match=match):
        zxzy(**kwargs, steps=2)


def test_bad_budget_and_direction_helpers():
    with pytest.raises(ValueError, match="steps"):
        zxzy({"a": torch.randn(10, 3)}, torch.randn(10, 2), steps=0)
    with pytest.raises(ValueError, match="x.*y"):
        zxzy({"a": torch.randn(10, 3)})
    with pytest.raises(ValueError, match="zx"):
        zx_information(0.0)
    assert zx_information(1.0) == 0.0 and zx_information(0.5) > 0  # lower MSE = more information


# ---- phase detector, on synthetic trajectories in the information direction -----------------

EPOCHS = np.array([0, 1, 2, 3, 5, 8, 12, 20, 30, 50])


def _noisy(curve, seeds=4, sd=0.01, seed=0):
    rng = np.random.default_rng(seed)
    return curve[None] + sd * rng.standard_normal((seeds, len(curve)))


def test_rise_then_fall_is_fit_then_compress():
    curve = np.array([0.5, 0.7, 0.9, 1.0, 0.95, 0.9, 0.85, 0.8, 0.78, 0.75])
    p = detect_phases(EPOCHS, _noisy(curve))
    assert p.kind == "fit-then-compress"
    assert p.fitting_rise == pytest.approx(0.5, abs=0.05)
    assert p.compression_fall == pytest.approx(0.2, abs=0.05)  # the median shaves the peak
    assert p.fit_epochs[0] == 0 and p.fit_epochs[1] in (3, 5)
    assert p.compress_epochs[0] >= p.fit_epochs[1]


def test_fall_only_is_compress_only_and_one_outlier_is_smoothed_away():
    curve = np.linspace(1.5, 0.8, len(EPOCHS))
    p = detect_phases(EPOCHS, _noisy(curve))
    assert p.kind == "compress-only" and p.fitting_rise < 0.05
    spiky = curve.copy()
    spiky[2] += 0.4  # a single-snapshot outlier must not count as fitting
    assert detect_phases(EPOCHS, spiky).kind == "compress-only"
    assert detect_phases(EPOCHS, spiky, width=1).kind == "fit-then-compress"


def test_flat_and_fit_only():
    assert detect_phases(EPOCHS, _noisy(np.ones(len(EPOCHS)), sd=0.005)).kind == "flat"
    rise = np.linspace(0.2, 1.2, len(EPOCHS))
    p = detect_phases(EPOCHS, rise)
    assert p.kind == "fit-only" and p.compression_fall == 0.0
    assert set(PHASE_KINDS) >= {p.kind}


def test_direction_matters_the_mse_itself_would_read_backwards():
    mse = np.exp(-np.array([0.5, 0.7, 0.9, 1.0, 0.95, 0.9, 0.85, 0.8, 0.78, 0.75]))
    assert detect_phases(EPOCHS, zx_information(mse)).kind == "fit-then-compress"
    assert detect_phases(EPOCHS, mse).kind != "fit-then-compress"


def test_compression_is_searched_only_after_the_fitting_phase():
    # falls by 0.5 at the start, rises by 1.0 (fitting, ends at snapshot 4), then falls by 0.2:
    # the compression is that last fall, not the bigger fall before fitting
    curve = np.array([1.0, 0.5, 0.5, 1.0, 1.5, 1.5, 1.3, 1.3, 1.3, 1.3])
    p = detect_phases(EPOCHS, curve, width=1)
    assert p.kind == "fit-then-compress"
    assert p.fitting_rise == pytest.approx(1.0, abs=1e-12) and p.fit_epochs == (1, 5)
    assert p.compression_fall == pytest.approx(0.2, abs=1e-12) and p.compress_epochs == (5, 12)
    np.testing.assert_array_equal(p.smoothed, curve)
    # without a fitting phase the search starts at the first snapshot
    q = detect_phases(EPOCHS, np.linspace(1.0, 0.5, 10), width=1)
    assert q.kind == "compress-only" and q.compress_epochs == (0, 50)
    assert q.compression_fall == pytest.approx(0.5, abs=1e-12)


def test_phase_detector_bad_input():
    with pytest.raises(ValueError, match="epochs"):
        detect_phases(EPOCHS[:3], np.ones(len(EPOCHS)))
    with pytest.raises(ValueError, match="width"):
        smooth_trajectory(np.ones(5), width=2)
    with pytest.raises(ValueError, match="NaN"):
        detect_phases(EPOCHS, np.full(len(EPOCHS), np.nan))
    with pytest.raises(ValueError, match="window"):
        detect_phases(EPOCHS, np.ones(len(EPOCHS)), window=0)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_shortcut_run_measures_every_block_at_every_snapshot(arch):
    from ibcore.claims.ch4_identity_shortcuts import phase_table, shortcut_run, snapshot_epochs

    torch.set_num_threads(1)
    kw = dict(depth=2, width=8, epochs=2, snapshots=3, probe_steps=5, probe_hidden=8)
    h = shortcut_run(seed=0, shortcut="identity", arch=arch, **kw)
    assert h.epochs.tolist() == snapshot_epochs(2, 3) == [0, 1, 2]
    assert h.measures["zxzy"].shape == (3, 2, 4) and h.meta["layers"] == ["h1", "h2"]
    assert np.isfinite(h.measures["zxzy"]).all()
    st = phase_table([h, h])
    assert st["fitting_rise"].shape == (2,) and set(st["kind"]) <= set(PHASE_KINDS)
    zx_only = shortcut_run(seed=0, shortcut="identity", arch=arch, probes="every-zx", **kw)
    m, full = zx_only.measures["zxzy"], h.measures["zxzy"]
    np.testing.assert_array_equal(m[..., :2], full[..., :2])  # Z-X of every block: unchanged
    np.testing.assert_allclose(m[:, -1, 2:], full[:, -1, 2:], rtol=1e-6)  # deepest Z-Y: round-off
    assert np.isnan(m[:, :-1, 2:]).all()
    with pytest.raises(ValueError, match="arch"):
        shortcut_run(seed=0, shortcut="identity", arch="transformer", **kw)


def _fake_history(zx: list[float], acc: float = 0.9):
    from ibcore.train import History

    zxzy = np.zeros((len(zx), 1, 4))
    zxzy[:, 0, 0] = zxzy[:, 0, 1] = zx  # Z-X columns (MSE): lower = more information
    return History(
        epochs=np.arange(len(zx)), activations={}, measures={"zxzy": zxzy},
        metrics={"test_acc": np.array([acc])}, probe_labels=np.zeros(1), meta={"layers": ["h1"]},
    )  # fmt: skip


def test_family_verdicts_judge_the_skip_and_the_fall_against_the_null():
    from ibcore.claims.ch4_identity_shortcuts import family_verdicts

    common = dict(chapter="04", paper="p", params={"scale": "cpu"}, device="cpu", runtime_s=0.0)
    fall = [0.6, 0.6, 0.6, 0.6, 1.0, 1.0, 1.0, 1.0, 1.0]  # -ln ZX falls by ln(1/0.6) = 0.51
    rise = [1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]  # -ln ZX rises by ln 2 = 0.69 early
    fam = {"identity": [_fake_history(fall) for _ in range(5)],
           "projection": [_fake_history(rise) for _ in range(5)]}  # fmt: skip
    null_same = [_fake_history(fall) for _ in range(5)]  # the null falls just as much
    vs = {v.claim: v for v in family_verdicts(fam, "ch4", "MLP", 0.05, common, null=null_same)}
    assert vs["ch4-is-skips-fitting"].status == "reproduced"
    assert vs["ch4-is-skips-fitting"].value == pytest.approx(np.log(2), abs=1e-6)
    assert vs["ch4-is-compresses"].value == pytest.approx(0.0, abs=1e-9)  # no more than the null
    assert vs["ch4-is-compresses"].status != "reproduced"
    assert vs["ch4-is-compresses"].null["per_seed"] == pytest.approx([np.log(1 / 0.6)] * 5)
    flat = [_fake_history([1.0] * 9) for _ in range(5)]
    vs = {v.claim: v for v in family_verdicts(fam, "ch4", "MLP", 0.05, common, null=flat)}
    assert vs["ch4-is-compresses"].status == "reproduced"
    assert vs["ch4-is-compresses"].sensitivity["of"] == 9
    # the same nets without the skip: NIS rises no more than IS
    same = {"identity": fam["identity"], "projection": fam["identity"]}
    vs = {v.claim: v for v in family_verdicts(same, "ch4", "MLP", 0.05, common)}
    assert vs["ch4-is-skips-fitting"].status == "not reproduced"


def test_nis_is_judged_on_both_phases_and_the_raw_curve_decides():
    from ibcore.claims.ch4_identity_shortcuts import family_verdicts

    common = dict(chapter="04", paper="p", params={"scale": "cpu"}, device="cpu", runtime_s=0.0)
    fit_only = [1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]  # rises by ln 2, never falls
    fit_fall = [1.0, 0.5, 0.5, 0.5, 0.5, 0.8, 1.0, 1.0, 1.0]  # rises, then falls by ln 2
    blip = [1.0, 1.0, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]  # a rise for one snapshot only
    five = lambda zx: [_fake_history(zx) for _ in range(5)]  # noqa: E731
    fam = {"identity": five(blip), "projection": five(fit_only), "none": five(fit_fall)}
    ctl = {"stemless": five([1.0] * 9), "orthogonal": five(fit_fall)}
    vs = {v.claim: v for v in family_verdicts(fam, "ch4", "MLP", 0.05, common, controls=ctl)}
    assert vs["ch4-nis-fits-projection"].status == "reproduced"
    assert vs["ch4-nis-fits-then-compresses-projection"].status == "not reproduced"
    assert vs["ch4-nis-fits-then-compresses-none"].status == "reproduced"
    # the raw curve sees the one-snapshot rise of the IS net; a running median of 3 erases it
    assert vs["ch4-is-no-fitting"].value == pytest.approx(np.log(1 / 0.8), abs=1e-6)
    assert vs["ch4-is-no-fitting"].status == "check fails"  # a check: never "reproduced"
    assert vs["ch4-is-no-fitting"].kind == "check"
    smoothed = [r for r in vs["ch4-is-no-fitting"].sensitivity["settings"] if r["width"] == 3]
    assert all(r["value"] == pytest.approx(0.0, abs=1e-9) for r in smoothed)
    assert vs["ch4-is-vs-none-fitting"].value == pytest.approx(np.log(2) - np.log(1.25), abs=1e-6)
    assert vs["ch4-stemless-is-no-fitting"].status == "check holds"
    assert vs["ch4-orthogonal-nis-fits-then-compresses"].status == "reproduced"
    assert vs["ch4-stemless-is-skips-fitting"].calibration_seeds == [100, 101, 102]


def test_a_pixel_lit_in_one_training_image_does_not_dominate_zx():
    g = torch.Generator().manual_seed(1)
    n, n_fit = 400, 300
    x = torch.randn(n, 6, generator=g)
    rare = torch.zeros(n, 1)
    rare[5] = 1.0  # lit in one fit row ...
    rare[350] = 1.0  # ... and in one score row: standardised by its tiny spread, about 17 sd
    xr = torch.cat([x, rare], 1)
    reps = {"x": x}
    kw = dict(n_fit=n_fit, **FAST)
    clean = zxzy(reps, x, None, **kw).zx_test[0]
    robust = zxzy(reps, xr, None, **kw).zx_test[0]
    naive = zxzy(reps, xr, None, x_min_support=0.0, **kw).zx_test[0]
    assert robust == pytest.approx(clean, rel=1e-6)  # the rare pixel is left out of Z-X
    assert naive > 1.5 * clean  # kept, it carries a large share of the test error
    with pytest.raises(ValueError, match="x_min_support"):
        zxzy(reps, xr, None, x_min_support=1.0, **kw)
    with pytest.raises(ValueError, match="constant"):
        zxzy(reps, rare, None, **kw)


def test_shortcut_run_controls_stemless_and_orthogonal():
    from ibcore.claims.ch4_identity_shortcuts import shortcut_run
    from ibcore.models import build_mlp

    torch.set_num_threads(1)
    m = build_mlp([8, 8, 8, 3], "relu", "identity", stem_shortcut=True, seed=0)
    assert [b.kind for b in m.blocks] == ["identity", "identity"]
    assert [b.kind for b in build_mlp([8, 8, 8, 3], "relu", "identity", seed=0).blocks] == [
        "none",
        "identity",
    ]
    kw = dict(depth=2, width=64, epochs=1, snapshots=2, probe_steps=3, probe_hidden=8)
    h = shortcut_run(seed=0, shortcut="identity", control="stemless", **kw)
    assert h.meta["model"]["stem_shortcut"] is True
    with pytest.raises(ValueError, match=r"parameter 'control' = 'stemless' needs arch 'mlp' or"):
        shortcut_run(seed=0, shortcut="projection", control="stemless", **kw)
    with pytest.raises(ValueError, match=r"parameter 'width' = 8 must equal the input dimension"):
        shortcut_run(seed=0, shortcut="identity", control="stemless", **{**kw, "width": 8})
    with pytest.raises(ValueError, match=r"parameter 'control' = 'mirror' is not allowed"):
        shortcut_run(seed=0, shortcut="identity", control="mirror", **kw)


def test_snapshot_epochs_inside_the_first_epoch():
    from ibcore.claims.ch4_identity_shortcuts import snapshot_epochs

    assert snapshot_epochs(30, 10) == [0, 1, 2, 4, 6, 9, 13, 20, 30]  # the docstring's example
    assert snapshot_epochs(30, 7, 2) == pytest.approx([0, 1 / 3, 2 / 3, 1, 2, 5, 9, 16, 30])
    with pytest.raises(ValueError, match=r"parameter 'within_first' must be an integer >= 0"):
        snapshot_epochs(30, 7, -1)


def test_cnn_controls_stemless_pads_the_input_and_orthogonal_projections():
    from ibcore.claims.ch4_identity_shortcuts import shortcut_run
    from ibcore.models import ZeroPadChannels, build_cnn

    torch.set_num_threads(1)
    m = build_cnn((1, 8, 8), 4, 3, 10, "relu", "identity", seed=0, stem_shortcut=True)
    assert isinstance(m.blocks[0].shortcut, ZeroPadChannels) and m.config["stem_shortcut"]
    x = torch.randn(5, 1, 8, 8)
    branch = m.blocks[0].act(m.blocks[0].conv(x))
    out = m.blocks[0](x)
    torch.testing.assert_close(out[:, :1], branch[:, :1] + x)  # the input, on channel 0 ...
    torch.testing.assert_close(out[:, 1:], branch[:, 1:])  # ... and zeros elsewhere
    with pytest.raises(ValueError, match="stem_shortcut needs shortcut 'identity'"):
        build_cnn((1, 8, 8), 4, 3, 10, "relu", "projection", stem_shortcut=True)
    kw = dict(arch="cnn", depth=3, width=4, epochs=1, snapshots=2, probe_steps=3, probe_hidden=8)
    h = shortcut_run(seed=0, shortcut="identity", control="stemless", **kw)
    assert h.meta["model"]["stem_shortcut"] is True
    with pytest.raises(ValueError, match="control"):
        shortcut_run(seed=0, shortcut="identity", control="orthogonal", **kw)


def test_orthogonal_control_starts_every_projection_orthogonal(monkeypatch):
    import ibcore.claims.ch4_identity_shortcuts as ch4

    seen = {}
    real = ch4.train

    def spy(model, *a, **k):  # the weights the run starts from
        seen["w"] = [b.shortcut.weight.detach().flatten(1).clone() for b in model.blocks[1:]]
        return real(model, *a, **k)

    monkeypatch.setattr(ch4, "train", spy)
    kw = dict(depth=3, epochs=1, snapshots=2, probe_steps=3, probe_hidden=8)
    for arch, width in (("mlp", 8), ("cnn", 4)):
        ch4.shortcut_run(seed=0, shortcut="projection", control="orthogonal", arch=arch,
                         width=width, **kw)  # fmt: skip
        for w in seen["w"]:
            torch.testing.assert_close(w @ w.T, torch.eye(width), atol=1e-5, rtol=0)


def test_deepest_only_probes_and_the_probe_budget_rerun(tmp_path, monkeypatch):
    from ibcore.cache import run_cached
    from ibcore.claims.ch4_identity_shortcuts import probe_budget_run, shortcut_run

    monkeypatch.setenv("IBCORE_CACHE", str(tmp_path))
    torch.set_num_threads(1)
    run = dict(seed=0, shortcut="identity", depth=3, width=8, epochs=2, snapshots=3,
               probe_steps=20, probe_hidden=8, probes="deepest-zx", keep_deepest=True)  # fmt: skip
    h = run_cached(shortcut_run, run)
    assert h.measures["zxzy"].shape == (3, 1, 4) and h.meta["layers"] == ["h3"]
    assert np.isfinite(h.measures["zxzy"][:, 0, :2]).all()
    assert np.isnan(h.measures["zxzy"][:, 0, 2:]).all()  # no Z-Y in these runs
    assert h.measures["deepest"].shape == (3, 1797, 8) and h.measures["deepest"].dtype == np.float16
    a = probe_budget_run(run=run, steps=20, hidden=8)
    assert a.shape == (3,) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, probe_budget_run(run=run, steps=20, hidden=8))
    # the same budget as the run's own probe measures about the same Z-X (its probe sees the
    # same activations, with other random draws)
    np.testing.assert_allclose(a, h.measures["zxzy"][:, 0, 0], rtol=0.25)
    with pytest.raises(ValueError, match="keep_deepest"):
        probe_budget_run(run={**run, "keep_deepest": False}, steps=20, hidden=8)
    with pytest.raises(ValueError, match="probes"):
        shortcut_run(**{**run, "probes": "some"})


def test_probe_budgets_enter_the_sensitivity_record():
    from ibcore.claims.ch4_identity_shortcuts import family_verdicts, probe_budgets
    from ibcore.schema import ParameterError

    assert probe_budgets(["1500x64", "300x0", "none"]) == [(1500, 64), (300, 0)]
    for bad in ("1500", "0x64", "ax64"):
        with pytest.raises(ParameterError, match="parameter 'probe_budgets'"):
            probe_budgets([bad])
    common = dict(chapter="04", paper="p", params={"scale": "cpu"}, device="cpu", runtime_s=0.0)
    flat, rise = [1.0] * 9, [1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    fam = {"identity": [_fake_history(flat) for _ in range(5)],
           "projection": [_fake_history(rise) for _ in range(5)]}  # fmt: skip
    # a longer probe sees the IS net rise as much as the projection net: the skip is gone
    budgets = {(1500, 64): {"identity": [np.array(rise)] * 5, "projection": [np.array(rise)] * 5}}
    vs = {v.claim: v for v in family_verdicts(fam, "ch4", "MLP", 0.05, common, budgets=budgets,
                                              probe=(300, 64))}  # fmt: skip
    v = vs["ch4-is-skips-fitting"]
    assert v.status == "reproduced" and v.sensitivity["of"] == 10
    row = [r for r in v.sensitivity["settings"] if r["probe"] == "1500x64"]
    assert len(row) == 1 and row[0]["status"] == "not reproduced"
    assert vs["ch4-is-no-fitting"].sensitivity["holds"] == 9  # all but the longer probe
