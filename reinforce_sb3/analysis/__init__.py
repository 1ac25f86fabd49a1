"""Tools on the tree game: gradient diagnostics (:mod:`.diagnostics`, over the estimator variants of
:mod:`.estimators`), learning speed on the exact return (:mod:`.learning`), pictures (:mod:`.plots`, the
``plots`` extra), the SB3-policy adapter of the exact analysis (:mod:`.policy_adapter`) and what their
command lines share (:mod:`.cli`).

Import the modules themselves; this package imports nothing, so that none of them loads another's extra.
"""
