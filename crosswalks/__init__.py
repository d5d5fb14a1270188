"""Pure record transforms, used by every endpoint and adapter; no files, sockets or store.

``formats`` is the entry point for rendering (MARCXML, Dublin Core, MODS, SUTRS, ISO 2709
in UTF-8 or MARC-8, MARC-in-JSON; brief and full). The other modules are the transforms
themselves (``marc_to_dc``, ``dc_to_marc``, ``mods``, ``marcxml``, ``iso2709``, ``marc8``,
``sutrs``), Vietnamese text (``vietnamese``, ``legacy``), standard numbers
(``identifiers``), display punctuation (``punctuation``), XML safety (``xmlchars``) and
record checks (``check``).
"""
