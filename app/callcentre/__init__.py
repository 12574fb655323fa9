"""The call-centre kit: a script and an FAQ per language from the same facts as the notices."""
