"""Upstream fixes carried as distributions carry them: the pinned release rebuilt with its patches.

The patches, their tests and their issue texts live in docs/upstream/<library>/. This package
builds what ships from them and checks them; it uses the standard library only, so that
`make install` can build the patched wheel before anything else is installed.

    patches.py  the release (hash-pinned), the series of patches, applying them (no fuzz)
    wheel.py    the patched wheel, reproducibly: `python -m upstream.wheel` (make install, the bundle)
    check.py    `make upstream-check` and `make upstream-lint`
"""
