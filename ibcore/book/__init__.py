"""The tooling that runs and teaches the book; nothing in the science or the claims imports it.

:mod:`~ibcore.book.pipeline` (``make book``, ``make run``), :mod:`~ibcore.book.sweep`
(``make sweep``), :mod:`~ibcore.book.student` (``make student``), :mod:`~ibcore.book.exercises`
(the exercise checkers), :mod:`~ibcore.book.widgets` (live controls),
:mod:`~ibcore.book.provenance` (the table at the end of each chapter).
"""
