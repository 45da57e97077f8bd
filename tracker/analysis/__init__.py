"""Analysis: stories, query matching, event labels with evidence, reply stance, timelines."""
