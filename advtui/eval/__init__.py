"""``advtui eval``: the dataset walk, the row loop, the results store and the report.

``dataset`` (items and labels), ``loop`` (config and the in-process engine), ``store`` (one
writer, atomic rows, resume), ``report`` (summary.json and tables), ``plots``.
"""
