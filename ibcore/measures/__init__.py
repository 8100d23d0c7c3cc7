"""Pure measures: functions over arrays, tensors and modules; they never train or load data.

* :mod:`~ibcore.measures.information` — I(X;T), I(T;Y) by binning, EBAB, KDE and aKDE;
* :mod:`~ibcore.measures.batch_entropy` — batch entropy and the LBE loss (Peer et al. 2022);
* :mod:`~ibcore.measures.singularities` — elimination, overlap, rank, Hessian spectra
  (Orhan & Pitkow 2018);
* :mod:`~ibcore.measures.zxzy` — Z-X / Z-Y probes and the phase detector (Lyu & Rodrigues 2024).
"""
