"""Tag editing and study correction dialogs (the core: pacsadmin.core.editing)."""
