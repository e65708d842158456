"""Quality figures of a project or one of its import batches: agreement, how each person does,
the confusion estimates and the gold set.

Selectors only: each loads plain rows with a fixed number of queries, whatever the number of people
or tasks, and hands them to the pure functions of `kit.agreement`; nothing here writes.

What is capped and what is exact: the agreement coefficients (Fleiss, Krippendorff, Cohen) and each
person's agreement with the final results are computed in Python over the newest
`ANNOTATION_ROWS_MAX` annotations of the scope, and a report says when that cap left older ones out.
Counts, active time, mean stored scores (agreement, gold) and review figures are aggregated by the
database over everything. The modules are the scope of a report, the agreement, the people, the
Quality page of a project (both from one load), its confusion estimates and its gold set.
"""
