"""Tools on the tree game: gradient diagnostics (:mod:`.diagnostics`), pictures (:mod:`.plots`, the
``plots`` extra) and the SB3-policy adapter of the exact analysis (:mod:`.policy_adapter`).

Import the modules themselves; this package imports nothing, so that none of them loads another's extra.
"""
