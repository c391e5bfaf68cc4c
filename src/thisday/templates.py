"""Templates: where they are found, the one Jinja2 environment, and the one template error.

Lookup order: the user's folder (``templates`` in ``thisday.toml``) first, then the templates shipped with
the package. The shipped ones are the repository's top-level ``templates/`` folder, installed as package data
(``thisday/templates`` inside a wheel, read through :mod:`importlib.resources`); a source checkout run in
place (``pip install -e .``) reads the same folder where it lies.

Autoescaping is on for HTML and XML templates; undefined names are errors (``StrictUndefined``), so a typo in a
template fails the preview instead of publishing an empty string.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from .errors import TemplateError

CHECKOUT_TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"
"""The repository's ``templates/`` folder, for a source checkout installed in place."""


def shipped_templates_dir() -> Path:
    """The folder of the templates shipped with thisday (package data, else the source checkout's)."""
    packaged = importlib.resources.files("thisday") / "templates"
    if isinstance(packaged, Path) and (packaged / "email" / "body.html").is_file():
        return packaged
    if (CHECKOUT_TEMPLATES / "email" / "body.html").is_file():
        return CHECKOUT_TEMPLATES
    raise TemplateError(
        "the templates shipped with thisday are missing from this installation (no thisday/templates in the "
        "package): reinstall thisday (pip install --force-reinstall thisday), or set 'templates' in thisday.toml "
        "to a folder holding email/ and site/ templates"
    )


def environment(user_folder: Path | None, source: Path | None = None) -> jinja2.Environment:
    """Jinja2 over the user's folder (first) and the shipped templates."""
    folders: list[Path] = []
    if user_folder is not None:
        if not user_folder.is_dir():
            raise TemplateError(
                f"{source or 'thisday.toml'}: templates folder {user_folder} does not exist: "
                "create it or remove 'templates' from the config"
            )
        folders.append(user_folder)
    folders.append(shipped_templates_dir())
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(folder) for folder in folders]),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm", "xml"), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(env: jinja2.Environment, name: str, values: Mapping[str, Any]) -> str:
    """Render template ``name``; every template failure becomes a :class:`TemplateError` naming file and line."""
    try:
        return env.get_template(name).render(values)
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(
            f"template {exc.name} not found in the templates folders; restore it (the shipped copy is in "
            f"{shipped_templates_dir()}) or delete your override"
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"{exc.filename or exc.name}:{exc.lineno}: template error: {exc.message}; fix the template "
            "or delete it to use the shipped one"
        ) from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(
            f"template {name}: {exc.message}; see the README (Templates) for the names templates can use"
        ) from None
    except jinja2.TemplateError as exc:
        raise TemplateError(
            f"template {name}: {exc}; fix the template or delete it to use the shipped one"
        ) from None
