"""Tools on the tree game: gradient diagnostics (:mod:`.diagnostics`, over the estimator variants of
:mod:`.estimators`, on episodes from :mod:`.sampling`), learning speed on the exact return (:mod:`.learning`),
pictures (:mod:`.plots` and the game tree in :mod:`.tree`, the ``plots`` extra, through :mod:`.figures`), the
SB3-policy adapter of the exact analysis (:mod:`.policy_adapter`) and what their command lines share (:mod:`.cli`).

Import the modules themselves; this package imports nothing, so that none of them loads another's extra.
"""
