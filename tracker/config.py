"""config.yaml: the common sections (core/config.py) and each registered source's own.

The model is composed from the registry, so a new source's section is validated like the rest;
accounts and story actors are checked by their platform's source (its handle rule), and the
scheduled jobs must be jobs some source declares. Errors name the config path
(``accounts[3].handle``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError, create_model

from tracker.core.config import OWN_JOBS, BaseConfig, loc_text, message_text, read_yaml
from tracker.core.errors import ConfigError
from tracker.sources.registry import REGISTRY

_models: dict[tuple, type[BaseConfig]] = {}


def config_model() -> type[BaseConfig]:
    """The Config model for the sources registered now (built once per set of sections)."""
    sections = tuple(sorted((name, s.config) for name, s in REGISTRY.sections().items()
                            if s.config is not None))
    model = _models.get(sections)
    if model is None:
        model = create_model("Config", __base__=BaseConfig,
                             **{name: (cls, cls()) for name, cls in sections})
        _models[sections] = model
    return model


Config = config_model()      # for type hints; parse_config builds the current one


def _check_identities(cfg) -> list[str]:
    """Accounts and story actors: a known platform, a handle its source accepts, no twice."""
    platforms = REGISTRY.platforms()
    errors: list[str] = []

    def check(where: str, item) -> None:
        if item.platform is None and platforms:
            item.platform = next(iter(platforms))      # the first registered platform
        source = platforms.get(item.platform)
        if source is None:
            errors.append(f"{where}.platform: unknown platform {item.platform!r} (platforms: "
                          f"{', '.join(platforms) or 'none'})")
            return
        try:
            item.handle = source.handle(item.handle)
        except ValueError as exc:
            errors.append(f"{where}.handle: {exc}")

    seen: set[tuple[str, str]] = set()
    for i, acc in enumerate(cfg.accounts):
        check(f"accounts[{i}]", acc)
        key = (acc.platform, acc.handle.lower())
        if key in seen:
            errors.append(f"accounts[{i}]: handle {acc.handle!r} is listed twice")
        seen.add(key)
    for i, story in enumerate(cfg.stories):
        errors += _check_actors(f"stories[{i}]", story.actors, check)
    known = list(dict.fromkeys([j.name for _, j in REGISTRY.scheduled_jobs()] + list(OWN_JOBS)))
    for name in cfg.schedule.jobs:
        if name not in known:
            errors.append(f"schedule.jobs: unknown job {name!r} (jobs: "
                          f"{', '.join(known)})")
    return errors


def _check_actors(where: str, actors, check) -> list[str]:
    """A story's actors: each identity checked by its platform's source; an account is one
    actor's only (once), and two actors do not share a name."""
    errors: list[str] = []
    owner: dict[tuple, str] = {}
    people: dict[str, str] = {}
    for j, actor in enumerate(actors):
        here = f"{where}.actors[{j}]"
        if actor.identities:
            for k, ident in enumerate(actor.identities):
                check(f"{here}.identities[{k}]", ident)
        else:
            check(here, actor)
        for k, ident in enumerate(actor.accounts):
            at = f"{here}.identities[{k}]" if actor.identities else here
            key = (ident.platform, ident.handle.lower())
            if key in owner:
                first = owner[key]
                same = first == here or first.startswith(here + ".")
                errors.append(f"{at}: {ident.platform} handle {ident.handle!r} is already "
                              + ("an identity of this actor" if same else f"listed at {first}"))
            else:
                owner[key] = at
        person = actor.person.lower()
        if person in people:
            errors.append(f"{here}: {actor.person!r} is already the actor {people[person]} "
                          "(give one actor all of a person's identities)")
        else:
            people[person] = here
    return errors


def parse_config(data: Any, *, base_dir: Path = Path("."), source: str = "config"):
    """Validate a parsed YAML document; raise ConfigError naming the first bad path."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections")
    try:
        cfg = config_model().model_validate(data)
    except ValidationError as exc:
        lines = [f"{loc_text(e['loc'])}: {message_text(e)}" for e in exc.errors()]
        raise ConfigError(f"{source}: " + "; ".join(lines)) from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to be a configuration") from None
    errors = _check_identities(cfg)
    if errors:
        raise ConfigError(f"{source}: " + "; ".join(errors))
    cfg.base_dir = base_dir
    for where, path, want_dir in (("storage.raw_dir", cfg.raw_dir, True),
                                  ("storage.database", cfg.database, False),
                                  ("storage.replica", cfg.replica, False)):
        if path.exists() and path.is_dir() != want_dir:
            raise ConfigError(f"{source}: {where}: {path} is a "
                              f"{'file' if want_dir else 'folder'}; it must name a "
                              f"{'folder' if want_dir else 'file'}")
    return cfg


STARTER = Path(__file__).with_name("starter-config.yaml")


def write_starter_config(path: str | Path) -> Path:
    """Write the commented starter configuration to ``path`` (which must not exist yet)."""
    p = Path(path)
    if p.exists():
        raise ConfigError(f"{p} exists; `tracker init` writes a starter config only where "
                          "there is none")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(STARTER.read_text(encoding="utf-8"), encoding="utf-8")
    return p


def load_config(path: str | Path):
    """Read and validate config.yaml. Relative storage paths are relative to the file's folder."""
    p = Path(path)
    data = read_yaml(p)
    cfg = parse_config(data, base_dir=p.resolve().parent, source=str(p))
    cfg.source_path = p.resolve()
    return cfg
