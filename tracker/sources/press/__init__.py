"""Press coverage: RSS/Atom feeds, the GDELT DOC 2.0 API and single pages, into `articles`.

One module per source type (feeds, gdelt, pages), plain HTTP with retries and a request cap
(http), a pure normalizer (normalize), URL canonicalisation (canonical) and the jobs (job).
"""
