"""quality's services: every write of the quality rules, one module for each thing they do.

`rules` writes the rules, `evaluation` measures people and takes actions, `effects` applies and
gives back what an action does to a person, `actions` ends actions (expiry, lift, appeal).

Lock order: the person's WorkerProjectState rows (by pk; the queue's per-person claim lock), the
rule action, then (through the queue and workforce services) leases, slots, tasks, the annotator
profile and skill levels. Every write records an audit event in its transaction.
"""
