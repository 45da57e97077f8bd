"""The Mastodon source: statuses, boosts, replies, polls over time, edits and deletions."""
