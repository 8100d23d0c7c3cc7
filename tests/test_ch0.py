"""Chapter 0's verdict metrics on hand-made planes: each plausible wrong variant (the null's own
fitting end, peaks from epoch 0, the wrong layer, the fixed grid for EBAB, unpaired seeds) gives
another number than the right one."""

import numpy as np
import pytest

from ibcore.claims import ch0_information_plane as ch0
from ibcore.measures.phases import compression_after, fitting_end, last_hidden


def _plane(h5, out_ity, out_ixt=(2, 3, 3, 3, 3, 3)):
    h5 = np.asarray(h5, float)
    return {
        "h4": np.stack([np.full(6, 11.0), np.zeros(6)], 1),
        "h5": np.stack([h5, np.linspace(0, 0.9, 6)], 1),
        "output": np.stack([np.asarray(out_ixt, float), np.asarray(out_ity, float)], 1),
    }


REAL = _plane([5, 9, 8, 7, 6, 4], [0, 0.5, 0.85, 0.95, 1.0, 1.0])
NULL = _plane([5, 6, 6, 5, 5, 5], [0, 0.1, 0.1, 0.1, 0.1, 0.1])


def test_fitting_end_and_fall_after_it():
    assert fitting_end(REAL, 0.9) == 3 and fitting_end(REAL, 0.8) == 2
    assert fitting_end(NULL, 0.9) == 1
    assert fitting_end(_plane([1] * 6, [0.3] * 6)) == 0  # no rise: the phase ends at once
    assert compression_after(REAL["h5"], 3) == 3.0  # max(7, 6, 4) - 4
    assert compression_after(REAL["h5"], 0) == 5.0  # from epoch 0 it would be 9 - 4
    assert last_hidden(REAL) == "h5"


def test_compression_metrics_use_the_real_nets_window_for_the_null():
    m = ch0.compression_metrics([REAL], [NULL])
    assert m["real"].tolist() == [3.0] and m["null"].tolist() == [0.0]
    assert m["difference"].tolist() == [3.0]
    # the null's own fitting end (index 1) would give 3 - 1 = 2; from epoch 0, 5 - 1 = 4;
    # the output layer instead of the last hidden one, 0 - 0 = 0
    own = compression_after(REAL["h5"], 3) - compression_after(NULL["h5"], fitting_end(NULL))
    assert own == 2.0 != m["difference"][0]
    with pytest.raises(ValueError, match="pair them by seed"):
        ch0.compression_metrics([REAL, REAL], [NULL])


def _result(seed, labels, fixed, ebab):
    return ch0.PlaneResult(seed=seed, labels=labels, epochs=np.arange(6), metrics={}, wall_s=0.0,
                           planes={"fixed-30": fixed, "ebab-30": ebab, "ebab-15": fixed})  # fmt: skip


def test_primary_values_read_ebab_paired_by_seed():
    flat = _plane([5] * 6, [0, 0.5, 0.85, 0.95, 1.0, 1.0])
    real = [_result(1, "true", flat, REAL), _result(2, "true", REAL, flat)]
    null = [_result(1, "permuted", flat, NULL), _result(2, "permuted", flat, NULL)]
    # seed 1: EBAB real falls 3, null 0 -> 3; seed 2: EBAB real flat 0, null 0 -> 0
    assert ch0.primary_values(real, null).tolist() == [3.0, 0.0]
    # the fixed grid (or another bin count) would read seed 2's REAL plane: 0 and 3
    assert ch0.primary_values(real, null, ebab_bins=15).tolist() == [0.0, 3.0]
    # fraction 0.8 starts the window at index 2: real max(8, 7, 6, 4) - 4 = 4, null 6 - 5 = 1
    assert ch0.primary_values(real, null, fraction=0.8).tolist() == [3.0, -1.0]
    with pytest.raises(ValueError, match="paired by seed"):
        ch0.primary_values(real, null[::-1])


def test_fitting_gain_is_end_minus_start_of_the_output():
    assert ch0.fitting_gain(REAL) == 1.0 and ch0.fitting_gain(NULL) == pytest.approx(0.1)
