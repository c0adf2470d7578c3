"""Help that names values the way people write them: `--lab FILE`, `--json`, `PHONE`.

typer 0.29 prints each parameter's Python type as its metavar: `<bool>` beside
every flag, `<list[str]>`, `<path>`, and a required argument as `{file}` in the
usage line. An option given `metavar=` keeps it; for the rest this module sets one
after the command tree is built: nothing for a flag, `[a|b]` for a choice,
FILE/DIR/PATH, INTEGER, NUMBER, TEXT. An argument shows its name in capitals in
the usage line and the argument list (typer gives arguments no hook for that, so
the two renderings are replaced on each argument object, not on typer's classes).
tests/cli/test_help.py reads every command's help for leftovers.
"""

from __future__ import annotations

import datetime
from typing import Any, get_args, get_origin

from typer.core import TyperArgument, TyperOption


def _label(option: TyperOption) -> str:
    """The metavar for an option that set none."""
    if option.is_flag or option.count:
        return ""
    desc = option.type_descriptor
    if desc.is_choice and desc.choices is not None:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in desc.choices) + "]"
    if desc.is_path:
        return desc.path_type.upper()
    annotation: Any = desc.annotation
    if get_origin(annotation) in (list, tuple):
        annotation = (get_args(annotation) or (str,))[0]
    if annotation is int:
        return "INTEGER"
    if annotation is float:
        return "NUMBER"
    if annotation is datetime.datetime:
        return "DATETIME"
    return "TEXT"


def _usage_name(argument: TyperArgument) -> str:
    name = argument.metavar or (argument.name or "value").upper()
    shown = name if argument.required else f"[{name}]"
    return shown + ("..." if argument.nargs != 1 else "")


def tidy(command: Any) -> Any:
    """Give every parameter of `command` and its subcommands a readable metavar."""
    for param in getattr(command, "params", []):
        if isinstance(param, TyperOption) and param.metavar is None:
            param.metavar = _label(param)
        elif isinstance(param, TyperArgument):
            param.metavar = param.metavar or (param.name or "value").upper()
            # the name column already says what it is; typer would add `<path>` beside it
            setattr(param, "display_type_rich", lambda ctx: None)  # noqa: B010
            setattr(param, "_usage_display_name",  # noqa: B010
                    lambda p=param: _usage_name(p))
    original = getattr(command, "get_help_option", None)
    if original is not None:  # click makes `--help` per context: a flag like the others
        def help_option(ctx: Any, original: Any = original) -> Any:
            option = original(ctx)
            if option is not None and getattr(option, "metavar", None) is None:
                option.metavar = ""
            return option

        setattr(command, "get_help_option", help_option)  # noqa: B010
    subcommands = getattr(command, "commands", None)
    if subcommands == {}:  # a group that is one command (`storm`, `preflight`): no COMMAND
        command.subcommand_metavar = ""
    for sub in (subcommands or {}).values():
        tidy(sub)
    return command
