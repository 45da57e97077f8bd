"""The kinds of event a story item can be (the analysis labels them; analysts may too)."""

EVENT_TYPES = ("claim", "denial", "rebuttal", "coverage_of_claim", "coverage_of_denial",
               "coverage_of_rebuttal", "poll", "reply", "mention",
               # an article's later version (tracker/analysis/article_updates.py)
               "article_updated_with_denial", "article_updated_with_rebuttal",
               "article_headline_changed")
