"""The `tracker` command. Thin: each command parses its options, calls the library, prints, and
exits with a clear code; the library's typed errors become one line on stderr.

Commands are grouped by topic (collect, ops, query, analysis, report, demo); each registered
source adds its own (tracker/sources/<name>/cli.py), and `tracker run` / `tracker schedule` run
the jobs the registry declares.
"""

from __future__ import annotations

import sys

import click

from tracker import __version__
from tracker.cli import analysis, collect, demo, denials, ops, query, report
from tracker.config import load_config
from tracker.core.errors import TrackerError
from tracker.core.lazy import lazy_module
from tracker.core.logs import setup_logging
from tracker.core.terminal import err
from tracker.sources.registry import REGISTRY

runner = lazy_module("tracker.runs.runner")


class TrackerGroup(click.Group):
    """Turns the library's typed errors into one line on stderr and a distinct exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TrackerError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
            sys.exit(exc.exit_code)


def build_cli() -> click.Group:
    """The command group: the common commands, then every registered source's."""

    @click.group(cls=TrackerGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("--config", "config_path", default="config.yaml", show_default=True,
                  envvar="TRACKER_CONFIG", show_envvar=True, type=click.Path(dir_okay=False),
                  help="Configuration file (may also follow the command).")
    @click.option("--log-level", default="WARNING", show_default=True,
                  type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"],
                                    case_sensitive=False))
    @click.option("--log-file", type=click.Path(dir_okay=False),
                  help="Log to this file, not stderr.")
    @click.version_option(__version__, prog_name="tracker")
    @click.pass_context
    def cli(ctx: click.Context, config_path: str, log_level: str, log_file: str | None) -> None:
        """Collect posts, polls, replies and coverage; align claims, denials and rebuttals.

        Every command reads --config (default ./config.yaml). Times are UTC.
        """
        ctx.ensure_object(dict)
        setup_logging(log_level, log_file)
        loaded: dict = {}

        def config():
            if "cfg" not in loaded:
                loaded["cfg"] = load_config(ctx.obj["config_path"])
                setup_logging(ctx.obj["log_level"], log_file,
                              secret_env=REGISTRY.secret_env(loaded["cfg"]))
            return loaded["cfg"]

        ctx.obj.update(config_path=config_path, log_level=log_level, log_file=log_file,
                       config=config, run=lambda *a, **kw: runner.run(*a, **kw))

    for module in (collect, ops, query, analysis, denials, report, demo):
        module.register(cli)
    for source in REGISTRY.sources:
        if source.cli is not None:
            source.cli(cli)
    _config_after_command(cli)
    return cli


def _config_after_command(group: click.Group) -> None:
    """Let every command take --config after its name too (`tracker status --config F`)."""
    def set_path(ctx: click.Context, param, value):
        if value is not None:
            ctx.find_root().obj["config_path"] = value
        return value

    for cmd in group.commands.values():
        if not any(p.name == "config_path" for p in cmd.params):
            cmd.params.append(click.Option(
                ["--config", "config_path"], type=click.Path(dir_okay=False),
                expose_value=False, is_eager=True, callback=set_path,
                help="Configuration file (default: --config before the command, "
                     "$TRACKER_CONFIG, ./config.yaml)."))
        if isinstance(cmd, click.Group):
            _config_after_command(cmd)


cli = build_cli()


def main() -> None:
    cli(obj={})


if __name__ == "__main__":
    main()
