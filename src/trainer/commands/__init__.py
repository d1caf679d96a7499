"""What ``trainer <command>`` runs when no other package owns it, and what every command shares.

``command.py`` declares a command (name, config, summary, function), ``help.py`` renders the
overview and a command's own help, ``console.py`` the console output, and ``train.py``,
``sweep.py``, ``eval.py`` and ``upload.py`` are the functions the CLI's table points at.
"""
