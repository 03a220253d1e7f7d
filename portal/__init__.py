"""Customer-facing pages: the branded tracking page and the order lookup that leads to it.

It is its own app because customer pages depend on every app below them (orders, playbooks, and next
notifications and CSAT) and nothing depends on them: they can change, or be replaced by a storefront
widget, without touching the hub's core.
"""
