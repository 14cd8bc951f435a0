"""One module per group of ``aura`` commands; each handler is ``async (Invocation) -> CommandResult``."""
