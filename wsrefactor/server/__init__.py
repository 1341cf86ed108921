"""The language server (``wsrefactor server``); needs the ``server`` extra (pygls, lsprotocol)."""
