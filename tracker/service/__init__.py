"""The scheduler service (`tracker schedule`) and the crontab it shares a definition with."""
