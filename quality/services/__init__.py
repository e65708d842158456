"""quality's services: every write of the quality rules, one module for each thing they do.

`rules` writes the rules, `evaluation` measures people and takes actions, `effects` applies and
gives back what an action does to a person, `actions` ends actions (expiry, lift, appeal);
`agreement` stores each project's computed agreement (a figure derived from the work, recomputed
at will, so it leaves no audit record, like the rollups of `quality.performance`).

Lock order: the person's WorkerProjectState rows (by pk; the queue's per-person claim lock), the
rule action, then (through the queue and workforce services) leases, slots, tasks, the annotator
profile and skill levels. Every write records an audit event in its transaction.
"""
