"""The command line: flags, the import commands, the commands that read or delete history."""
