"""Running jobs: the generic runner (lock, plan, fetch into raw, load, replica, run record) and
what is built on it (loading, rebuilding, status, cost, analysis and labels, the demo)."""
