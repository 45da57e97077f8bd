"""A toy platform written only for tests: a local JSON feed of posts.

It is added the way any platform is (docs/architecture.md, "Adding a platform"): this folder
and one ``REGISTRY.register(SOURCE)`` line; nothing else in the tracker changes.
"""
