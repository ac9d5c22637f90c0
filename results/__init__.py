"""The results contract: what precompute writes and the dashboard reads, in one place.

- :mod:`results.schema`: the tables, their version, the routes and how experiment ids are made.
- :mod:`results.codecs`: how arrays (float16 maps and images) and audio (OGG) are stored.
- :mod:`results.store`: finding and opening a results database (read-only, version-checked).
- :mod:`results.settings`: typed readers of stored settings (a stored perceptual model with its clip
  length, methods, method options and sonification gains).

The writer (:mod:`precompute.database`) and the reader (:mod:`dashboard.queries`) import these;
neither defines a table, a codec or a stored default of its own.
"""
